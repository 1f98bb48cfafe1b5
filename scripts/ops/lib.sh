# Shared by the operator scripts: they need only bash, awk and redis-cli
# (no Swift build on the operator's box). Source, do not run.
set -euo pipefail
OPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LUA_DIR="${SEATLOCK_LUA_DIR:-$OPS_DIR/../../lua}"

# redis-cli against $REDIS_URL (default: local Redis, db 0). A cluster's URL
# names several seeds (redis://[user:pass@]h1:p1,h2:p2/0): redis-cli takes the
# first, in cluster mode (-c follows MOVED and ASK to the key's primary).
rcli() {
  local url=${REDIS_URL:-redis://127.0.0.1:6379/0}
  if [[ "$url" == *,* ]]; then
    local prefix="redis://" rest=${url#redis://} db=0 first
    if [[ "$rest" == *@* ]]; then prefix="redis://${rest%%@*}@"; rest=${rest#*@}; fi
    [[ "$rest" == */* ]] && db=${rest##*/}
    first=${rest%%/*}; first=${first%%,*}
    redis-cli -c -u "$prefix$first/$db" --no-auth-warning "$@"
  else
    redis-cli -u "$url" --no-auth-warning "$@"
  fi
}

# The source of lua/NAME.lua with its `--@include X` lines replaced by
# lua/includes/X.lua: exactly what the server loads.
lua_source() {
  awk -v dir="$LUA_DIR/includes" '
    /^--@include / { file = dir "/" $2 ".lua"; while ((getline line < file) > 0) print line; close(file); next }
    { print }' "$LUA_DIR/$1.lua"
}

# Runs lua/NAME.lua with EVAL: run_script NAME NUMKEYS KEY... ARG...
run_script() {
  local name=$1; shift
  rcli EVAL "$(lua_source "$name")" "$@"
}

check_id() { [[ "$1" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || { echo "not a valid id: $1" >&2; exit 2; }; }
