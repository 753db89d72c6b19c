#!/usr/bin/env bash
# Sets up everything posekit needs on a fresh machine; safe to run again (idempotent).
#   1. Debian packages for headless OpenGL (EGL + Mesa llvmpipe), when missing and we are root.
#   2. A virtualenv in $VENV (default .venv).
#   3. torch==2.13.0 first (CPU wheel), so nothing later pulls a CUDA build.
#      Set TORCH_PIP_ARGS (e.g. "--index-url https://download.pytorch.org/whl/cpu") if your pip
#      would otherwise pick a CUDA wheel.
#   4. posekit itself, editable, with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-all}

need_pkgs=()
for p in libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian packages: ${need_pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}") >/dev/null
  else
    echo "[setup] warning: missing ${need_pkgs[*]} (run as root or install them: the renderer needs them)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# Some pip configurations list local indexes that lack a few projects; pip warns once per
# project. Those lines are noise: drop them, keep every other message.
quiet_pip() { "${PIP[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

stamp="$VENV/.posekit-installed"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$EXTRAS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU)"
  # shellcheck disable=SC2086
  quiet_pip install ${TORCH_PIP_ARGS:-} "torch==2.13.0"
fi
echo "[setup] installing posekit[$EXTRAS]"
quiet_pip install -e ".[$EXTRAS]"
echo "$want" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, posekit; print("torch", torch.__version__, "posekit", posekit.__version__)')"
