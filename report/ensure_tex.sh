#!/bin/sh
# Make sure the report's tools are here before `make report` runs pdflatex.
#   pdflatex, latexmk  build report/report.pdf;  pdftotext, pdffonts  let .ci/run read it back.
# Missing tools or LaTeX packages: as root with apt-get, install the Debian packages below (no
# recommends: about what the report needs, not all of TeX Live); otherwise stop with one line saying
# what to install. lmodern: Latin Modern in Type 1 outlines for every text encoding, so no glyph (the
# kernel's TS1 bullet, say) is rendered as a METAFONT bitmap.
set -eu

PACKAGES="texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern latexmk poppler-utils"
TOOLS="pdflatex latexmk pdftotext pdffonts"
# The LaTeX packages report.tex loads; all come with the Debian packages above.
STYLES="lmodern amsmath amssymb amsthm graphicx booktabs hyperref geometry microtype caption subcaption xcolor float"

missing_tools() {
    missing=""
    for tool in $TOOLS; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    echo "$missing"
}

# Only asked once pdflatex (and with it kpsewhich) is here.
absent_styles() {
    absent=""
    for style in $STYLES; do
        [ -n "$(kpsewhich "$style.sty")" ] || absent="$absent $style.sty"
    done
    echo "$absent"
}

missing=$(missing_tools)
absent=""
[ -n "$missing" ] || absent=$(absent_styles)
if [ -n "$missing$absent" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "report: installing TeX (missing:$missing$absent): apt-get install --no-install-recommends $PACKAGES" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
        missing=$(missing_tools)
        if [ -n "$missing" ]; then
            echo "error: still missing$missing after apt-get install $PACKAGES" >&2
            exit 1
        fi
        absent=$(absent_styles)
    elif [ -n "$missing" ]; then
        echo "error: missing$missing; install them (as root): apt-get install --no-install-recommends $PACKAGES" >&2
        exit 1
    fi
fi

if [ -n "$absent" ]; then
    echo "error: LaTeX cannot find$absent; install them (as root): apt-get install --no-install-recommends $PACKAGES" >&2
    exit 1
fi
