# Shared by scripts/serve and scripts/test: a project-local virtualenv and Debian packages.
# Sourced, not run.

PYTHON="${PYTHON:-python3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RESIDENTBOT_VENV:-$ROOT/.venv}"

# ensure_venv EXTRAS: create .venv on first use and (re)install the project into it
# whenever pyproject.toml changed since the last install.
ensure_venv() {
    local extras="$1" stamp
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || { echo "residentbot needs Python 3.11 or newer (found: $("$PYTHON" --version))" >&2; exit 1; }
        "$PYTHON" -m venv "$VENV"
    fi
    stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)-${extras:-base}"
    if [ ! -e "$stamp" ]; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT${extras:+[$extras]}"
        touch "$stamp"
    fi
}

# ensure_command CMD DEBIAN_PACKAGE: install the package with apt-get when CMD is missing.
ensure_command() {
    local cmd="$1" pkg="$2" sudo=""
    command -v "$cmd" >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing $pkg (needed for $cmd)…" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}
