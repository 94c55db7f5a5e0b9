#!/usr/bin/env bash
# The README's first command block, as a user who installed the wheel runs it: the wheel
# built from this tree, installed in a fresh venv, run in an empty folder with nothing
# of this repository beside it. Dependencies come from the environment CI installed
# (--system-site-packages); the package itself only from the wheel.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m build --wheel --outdir "$work/dist" "$repo" >/dev/null
python -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-deps --force-reinstall "$work"/dist/*.whl

mkdir "$work/empty" && cd "$work/empty"
export PATH="$work/venv/bin:$PATH"
location="$(python -c 'import keras_loretrack, os; print(os.path.dirname(keras_loretrack.__file__))')"
case "$location" in
  "$work/venv/"*) ;;
  *) echo "wheel smoke: keras_loretrack imported from $location, not the wheel" >&2; exit 1 ;;
esac

# The first line of the README's first ```bash block, without its install step.
commands="$(awk '/^```bash/{inside=1; next} inside && /^```/{exit} inside && !/^#/' "$repo/README.md" \
  | sed -E 's/^pip install [^&]*&& //')"
echo "wheel smoke: $commands"
bash -euo pipefail -c "$commands"
test -s demo/tracked.mp4 && test -s demo/tracked.txt
echo "wheel smoke: the README's first block ran from the wheel in $(pwd)"
