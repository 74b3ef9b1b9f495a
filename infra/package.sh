#!/usr/bin/env bash
# Builds one Lambda zip per function: target/lambda/<binary>/bootstrap.zip (the layout
# `cargo lambda build --output-format zip` uses, and what infra/cdk deploys).
#
#   bash infra/package.sh [--arm64] [binary ...]     default: all five functions, x86_64
#
# With cargo-lambda on PATH: `cargo lambda build --release` (cross-links for glibc 2.34 with zig,
# `pip install ziglang`, or builds with the host compiler when zig is missing). Without it: plain
# `cargo build --release -p <package>` on this x86_64 host, the binary copied as `bootstrap` and
# zipped; every bootstrap is checked with objdump to need at most GLIBC_2.34 (Amazon Linux 2023).
# A clean release build of the workspace takes 8-13 minutes on a 2-core machine.
# Cargo invocations: api, rotation and scheduler together (they need the same crates with nearly
# the same features: one build of the AWS SDK serves all three), each rotator-* function alone.
# One invocation unifies the features of the packages it builds, and each rotator enables only
# its own database engine of coffer-rotators (built together, both would link both drivers).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(coffer-api coffer-rotation coffer-scheduler coffer-rotator-postgres coffer-rotator-mysql)
ARCH=x86_64
BINARIES=()
for arg in "$@"; do
  case "$arg" in
    --arm64) ARCH=arm64 ;;
    --x86_64) ARCH=x86_64 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) BINARIES+=("$arg") ;;
  esac
done
[[ ${#BINARIES[@]} -gt 0 ]] || BINARIES=("${ALL[@]}")
MAX_GLIBC=2.34

# The invocations: the service functions in one, every other binary in one of its own.
SERVICE=()
OTHERS=()
for b in "${BINARIES[@]}"; do
  case "$b" in
    coffer-api | coffer-rotation | coffer-scheduler) SERVICE+=("$b") ;;
    *) OTHERS+=("$b") ;;
  esac
done
INVOCATIONS=()
[[ ${#SERVICE[@]} -gt 0 ]] && INVOCATIONS+=("${SERVICE[*]}")
for b in "${OTHERS[@]}"; do INVOCATIONS+=("$b"); done

die() { echo "package.sh: $*" >&2; exit 1; }

# Highest GLIBC_x.y symbol version a binary needs, or "none" for a static binary.
glibc_needed() {
  local v
  v="$(objdump -T "$1" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
  echo "${v:-none}"
}

check_glibc() {
  local bin="$1" needed
  command -v objdump >/dev/null || die "objdump (binutils) is needed to check the glibc version"
  needed="$(glibc_needed "$bin")"
  if [[ "$needed" != none && "$(printf '%s\n%s\n' "$needed" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]]; then
    die "$bin needs GLIBC_$needed; Amazon Linux 2023 (provided.al2023) has $MAX_GLIBC"
  fi
  echo "  $bin: needs GLIBC_$needed (<= $MAX_GLIBC)"
}

zip_bootstrap() {
  local dir="$1"
  rm -f "$dir/bootstrap.zip"
  # Python's zipfile: no dependency on the zip tool; keeps the executable bit.
  python3 - "$dir" <<'EOF'
import os, sys, zipfile
d = sys.argv[1]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(os.path.join(d, "bootstrap"), "rb") as f, zipfile.ZipFile(os.path.join(d, "bootstrap.zip"), "w") as z:
    z.writestr(info, f.read())
EOF
}

START=$SECONDS
if command -v cargo-lambda >/dev/null 2>&1; then
  args=(lambda build --release --output-format zip)
  if [[ $ARCH == arm64 ]]; then
    args+=(--arm64)
  elif command -v zig >/dev/null 2>&1 || python3 -c 'import ziglang' 2>/dev/null; then
    args+=(--target x86_64-unknown-linux-gnu.2.34)
  else
    args+=(--compiler cargo)
  fi
  for group in "${INVOCATIONS[@]}"; do
    bins=()
    for b in $group; do bins+=(--bin "$b"); done
    echo "package.sh: cargo ${args[*]} ${bins[*]}"
    cargo "${args[@]}" "${bins[@]}"
  done
  for b in "${BINARIES[@]}"; do
    [[ -f target/lambda/$b/bootstrap.zip ]] || die "cargo lambda did not produce target/lambda/$b/bootstrap.zip"
    if [[ $ARCH == x86_64 && -f target/lambda/$b/bootstrap ]]; then check_glibc "target/lambda/$b/bootstrap"; fi
  done
else
  [[ $ARCH == x86_64 && "$(uname -m)" == x86_64 ]] ||
    die "without cargo-lambda only x86_64 on an x86_64 host is supported (cargo install cargo-lambda --locked)"
  for group in "${INVOCATIONS[@]}"; do
    packages=()
    for b in $group; do packages+=(-p "$b"); done
    echo "package.sh: cargo-lambda not found; cargo build --release ${packages[*]}"
    cargo build --release "${packages[@]}"
  done
  for b in "${BINARIES[@]}"; do
    [[ -x target/release/$b ]] || die "target/release/$b was not built (is $b a binary of the workspace?)"
    mkdir -p "target/lambda/$b"
    cp "target/release/$b" "target/lambda/$b/bootstrap"
    check_glibc "target/lambda/$b/bootstrap"
    zip_bootstrap "target/lambda/$b"
  done
fi

for b in "${BINARIES[@]}"; do
  printf '  target/lambda/%s/bootstrap.zip  %s bytes\n' "$b" "$(stat -c %s "target/lambda/$b/bootstrap.zip")"
done
echo "package.sh: ${#BINARIES[@]} zips ($ARCH) in $((SECONDS - START)) s"
