#!/usr/bin/env bash
# Installs the Debian packages the pipeline and its tests need, only those missing.
# Idempotent: a second run installs nothing.
set -euo pipefail

declare -A wanted=(
  [ffprobe]=ffmpeg
  [redis-server]=redis-server
  [zip]=zip
  [7z]=p7zip-full
  [antiword]=antiword
  [chromium]=chromium
)
# Package-only dependencies, checked with dpkg.
# LibreOffice's writer, impress and calc (nogui: no X libraries) read what antiword and our
# PowerPoint walk cannot: .xls/.et, .rtf, ODF, WPS files and the .doc files antiword refuses.
# libgl1 and libglib2.0-0: the opencv wheel rapidocr-onnxruntime pulls in links against them.
extra_packages=(fonts-noto-cjk libgl1 libglib2.0-0 libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui)

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
for pkg in "${extra_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
