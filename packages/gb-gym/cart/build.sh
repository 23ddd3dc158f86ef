#!/bin/sh
# Build the Hopland cartridge with Debian's sdcc (>= 4.2, sm83 port).
#   ./build.sh          build into build/ and copy the ROM into the package
#   ./build.sh --check  rebuild in a temporary directory and fail if the result
#                       differs from the committed ROM
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$HERE/../src/gb_gym/roms"
ROM_DEST="$(cd "$HERE/../src/gb_gym/roms" && pwd)/hopland.gb"

for tool in sdcc sdasgb makebin; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: '$tool' not found; install sdcc (e.g. apt-get install sdcc)" >&2
        exit 2
    fi
done

build() { # $1 = output directory
    out=$1
    mkdir -p "$out"
    # Compile from inside the source directory with relative names, so no
    # absolute path can end up in the objects.
    cd "$HERE"
    sdasgb -plosgff -o "$out/crt0.rel" crt0.s
    sdasgb -plosgff -o "$out/vblank.rel" vblank.s
    # (info 218 is a harmless note from sdcc 4.2's peephole optimiser)
    for f in main levels tiles; do
        sdcc -msm83 --std-sdcc11 --opt-code-speed --disable-warning 218 -c "$f.c" -o "$out/$f.rel"
    done
    # Code after the header at 0x200; variables above the fixed RAM map
    # (0xC000-0xC2FF: published map, live copy, snapshot, shadow OAM).
    sdcc -msm83 --no-std-crt0 --code-loc 0x200 --data-loc 0xC300 \
        -o "$out/hopland.ihx" \
        "$out/crt0.rel" "$out/vblank.rel" "$out/main.rel" "$out/levels.rel" "$out/tiles.rel"
    # Header: title HOPLAND, cartridge type 0x00 (ROM only), 32 KiB, no RAM,
    # SGB flag and version 0 (makebin leaves 0xFF there otherwise and notes
    # "caution: ... outdated" about these two options: that note is hidden).
    if ! makebin -Z -yn HOPLAND -yt 0x00 -yo 2 -ya 0 -yp 0x146=0x00 -yp 0x14C=0x00 \
        "$out/hopland.ihx" "$out/hopland.gb" 2>"$out/makebin.log"; then
        cat "$out/makebin.log" >&2
        exit 1
    fi
}

if [ "${1:-}" = "--check" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    build "$tmp" >/dev/null
    if cmp -s "$tmp/hopland.gb" "$ROM_DEST"; then
        echo "build.sh --check: OK, the committed ROM matches a fresh build"
        exit 0
    fi
    echo "build.sh --check: FAILED: a fresh build differs from $ROM_DEST" >&2
    echo "  rebuild with packages/gb-gym/cart/build.sh and commit the ROM" >&2
    exit 1
fi

build "$HERE/build"
cp "$HERE/build/hopland.gb" "$ROM_DEST"
echo "built $ROM_DEST ($(wc -c < "$ROM_DEST") bytes)"
