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
  [fpcalc]=libchromaprint-tools
  [chromium]=chromium
  [npm]=npm
)
# Package-only dependencies, checked with dpkg.
# LibreOffice's writer, impress and calc (nogui: no X libraries) read what antiword and our
# PowerPoint walk cannot: .xls/.et, .rtf, ODF, WPS files and the .doc files antiword refuses.
# libgl1 and libglib2.0-0: the opencv wheel rapidocr-onnxruntime pulls in links against them.
extra_packages=(fonts-noto-cjk libgl1 libglib2.0-0 libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# promtool, Prometheus's own checker of deploy/prometheus (config, alert rules and their unit
# tests), without the Prometheus server: Debian's package unpacked, its promtool kept.
tools="$(cd "$(dirname "$0")/.." && pwd)/.tools/bin"
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$tools/promtool" ]; then
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null)
  fi
  dpkg -x "$tmp"/prometheus_*.deb "$tmp/unpacked"
  mkdir -p "$tools"
  cp "$tmp/unpacked/usr/bin/promtool" "$tools/promtool"
  rm -rf "$tmp"
fi

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
for pkg in "${extra_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Grafana's own dashboard schema (@grafana/schema's types) and TypeScript to check
# deploy/grafana/dashboards against it (tests/integration/test_exporter.py).
grafana="$(cd "$(dirname "$0")/.." && pwd)/.tools/grafana"
if [ ! -x "$grafana/node_modules/.bin/tsc" ] || [ ! -d "$grafana/node_modules/@grafana/schema" ]; then
  mkdir -p "$grafana"
  npm install --prefix "$grafana" --silent --no-audit --no-fund @grafana/schema@13.2.3 typescript@5.9 >/dev/null
fi
