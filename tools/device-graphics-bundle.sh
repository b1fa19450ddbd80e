#!/bin/sh
# Packs what R's PNG device needs on the GPU machine, beside the R bundle of
# ../shared/tools/device-r-bundle (which has no graphics libraries: there,
# png() failed to load cairo.so for want of libtiff.so.6, and knitr could not
# draw the vignette's figures). Contents: the shared libraries that this
# machine's cairo.so links against (less the C library, R itself and what the
# R bundle already carries: ICU, tirpc, deflate, BLAS, readline), the
# DejaVu fonts and a fontconfig file naming them.
#
#   sh tools/device-graphics-bundle.sh .devgfx        # here, once
#   echo /.devgfx/ >> .git/info/exclude
# then in a device run that carries .devgfx (with .devr):
#   source .devr/activate.sh && . .devgfx/activate.sh
#   Rscript -e 'capabilities("png")'                  # TRUE
set -eu
OUT=${1:?usage: device-graphics-bundle.sh OUTDIR}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d); mkdir -p "$W/gfx/lib" "$W/gfx/fonts"
CAIRO=$(Rscript -e 'cat(system.file("libs", "cairo.so", package = "grDevices"))')
[ -f "$CAIRO" ] || { echo "this R has no cairo.so: install r-base-core with cairo support" >&2; exit 1; }
ldd "$CAIRO" | awk '/=>/ {print $3}' |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libR|libstdc\+\+|libgcc_s)\.so' |
  grep -v -E '/(libicu[a-z0-9]*|libtirpc|libdeflate|libblas|libreadline|libtinfo|libgomp)\.so' |
  while read -r lib; do cp -L "$lib" "$W/gfx/lib/"; done
cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
   "$W/gfx/fonts/"
cat > "$W/gfx/fonts.conf" <<'EOC'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/tmp/devgfx/gfx/fonts</dir>
  <cachedir>/tmp/devgfx/cache</cachedir>
  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>Helvetica</family><prefer><family>DejaVu Sans</family></prefer></alias>
</fontconfig>
EOC
tar -C "$W" -cf - gfx | xz -T0 -6 > "$OUT/gfx.tar.xz"; rm -rf "$W"
cat > "$OUT/activate.sh" <<'EOS'
# source me after .devr/activate.sh: R's PNG device (cairo) and fonts on the GPU machine
_G=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
[ -d /tmp/devgfx/gfx ] || { mkdir -p /tmp/devgfx && tar -C /tmp/devgfx -xJf "$_G/gfx.tar.xz"; }
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/devgfx/gfx/lib
export FONTCONFIG_FILE=/tmp/devgfx/gfx/fonts.conf
EOS
echo "wrote $OUT/gfx.tar.xz ($(du -h "$OUT/gfx.tar.xz" | cut -f1)) and $OUT/activate.sh"
