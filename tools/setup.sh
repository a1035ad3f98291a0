#!/usr/bin/env bash
# Installs what Hunyuan.Vk needs on Debian/Ubuntu and is missing: glslc (shader compiler), the Vulkan loader,
# Mesa's Vulkan drivers (lavapipe, the CPU device, plus Mesa's GPU drivers) and the Khronos validation layer.
# Safe to run again: it installs nothing when everything is there. Needs root or sudo for apt-get.
set -euo pipefail

packages=(glslc libvulkan1 mesa-vulkan-drivers vulkan-validationlayers vulkan-tools)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
    echo "setup: the .NET 10 SDK is missing: install it (https://learn.microsoft.com/dotnet/core/install/linux-debian)" >&2
    exit 1
fi
echo "setup: ok ($(glslc --version | head -1); dotnet $(dotnet --version))" >&2
