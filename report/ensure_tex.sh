#!/bin/sh
# Make sure the report's tools are here before `make report` runs pdflatex.
#   pdflatex, latexmk  build report/report.pdf;  pdftotext  lets .ci/run read it back.
# Missing tools: as root with apt-get, install the Debian packages below (no recommends: about
# what the report needs, not all of TeX Live); otherwise stop with one line saying what to install.
set -eu

PACKAGES="texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk poppler-utils"
TOOLS="pdflatex latexmk pdftotext"
# The LaTeX packages report.tex loads; all come with the Debian packages above.
STYLES="amsmath amssymb amsthm graphicx booktabs hyperref geometry microtype caption subcaption xcolor float"

missing_tools() {
    missing=""
    for tool in $TOOLS; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    echo "$missing"
}

missing=$(missing_tools)
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "report: installing TeX (missing:$missing): apt-get install --no-install-recommends $PACKAGES" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
        missing=$(missing_tools)
        if [ -n "$missing" ]; then
            echo "error: still missing$missing after apt-get install $PACKAGES" >&2
            exit 1
        fi
    else
        echo "error: missing$missing; install them (as root): apt-get install --no-install-recommends $PACKAGES" >&2
        exit 1
    fi
fi

absent=""
for style in $STYLES; do
    [ -n "$(kpsewhich "$style.sty")" ] || absent="$absent $style.sty"
done
if [ -n "$absent" ]; then
    echo "error: LaTeX cannot find$absent; install them (as root): apt-get install --no-install-recommends $PACKAGES" >&2
    exit 1
fi
