"""Modal app descriptor: the gpu-service image as an autoscaled HTTPS endpoint.

Only Modal's Python SDK can declare autoscaled web endpoints (README.md beside
this file says why this path). Deploy with

    npm run modal -w gpu-service -- deploy            # runs `modal deploy` on this file
    npm run modal -w gpu-service -- deploy --dry-run  # prints the plan, no network

The settings come from the environment that `deploy/modal.ts` sets from
`deploy/settings.ts`; the defaults here mirror those (a test keeps them equal)
so that `modal deploy gpu-service/deploy/modal_app.py` also works by hand, and
so that this module imports inside the container, where Modal loads it again.
"""

import os
import subprocess

import modal

APP_NAME = os.environ.get("MODAL_APP_NAME", "star-gpu-service")
IMAGE = os.environ.get("STAR_IMAGE", "ghcr.io/star-api/gpu-service:latest")
GPU = os.environ.get("MODAL_GPU", "L40S")
MIN_CONTAINERS = int(os.environ.get("MODAL_MIN_CONTAINERS", "0"))
MAX_CONTAINERS = int(os.environ.get("MODAL_MAX_CONTAINERS", "4"))
SCALEDOWN_WINDOW_S = int(os.environ.get("MODAL_SCALEDOWN_WINDOW_S", "300"))
SECRET_NAME = os.environ.get("MODAL_SECRET_NAME", "star-gpu-service")
WEIGHTS_VOLUME = os.environ.get("MODAL_WEIGHTS_VOLUME", "star-weights")
CACHE_VOLUME = os.environ.get("MODAL_CACHE_VOLUME", "star-graph-cache")
MAX_INPUTS = int(os.environ.get("MODAL_MAX_INPUTS", "64"))
MODELS = os.environ.get("MODELS", "star-tiny")
MAX_BATCH = os.environ.get("MAX_BATCH", "16")
PORT = 8788

# Modal runs its own entrypoint, not the image's CMD, and needs a Python beside Node.
# The service's configuration travels in the image env so the container sees what was deployed.
image = modal.Image.from_registry(IMAGE, add_python="3.12").env(
    {"MODELS": MODELS, "MAX_BATCH": MAX_BATCH, "DEVICE": "cuda", "PORT": str(PORT), "HOST": "0.0.0.0", "MODEL_DIR": "/models"}
)

app = modal.App(APP_NAME)


@app.function(
    image=image,
    gpu=GPU,
    min_containers=MIN_CONTAINERS,  # 0 = scale to zero when idle
    max_containers=MAX_CONTAINERS,
    scaledown_window=SCALEDOWN_WINDOW_S,  # idle seconds before a container stops
    secrets=[modal.Secret.from_name(SECRET_NAME)],  # provides GPU_SHARED_SECRET
    volumes={
        "/models": modal.Volume.from_name(WEIGHTS_VOLUME, create_if_missing=True),
        # built ONNX graphs (the image's STAR_CACHE_DIR): a new container loads them instead of building
        "/var/cache/star": modal.Volume.from_name(CACHE_VOLUME, create_if_missing=True),
    },
    timeout=600,  # longest single request; the service's own REQUEST_TIMEOUT_MS is shorter
)
# One container takes many concurrent requests: the service's micro-batcher needs them together.
@modal.concurrent(max_inputs=MAX_INPUTS)
@modal.web_server(PORT, startup_timeout=120)
def serve():
    # The server listens at once and loads models in its engine worker; /readyz says when warm.
    subprocess.Popen(["node", "gpu-service/src/server/main.ts"], cwd="/app")
