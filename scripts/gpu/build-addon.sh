# Sourced by scripts/gpu/issue15.sh and scripts/gpu/zoo.sh: builds the addon (shim + c10d) on the device machine with
# g++ against the libtorch it has and exports OODGEN_NATIVE. The shim and c10d have only
# been compiled against Debian's libtorch 1.13 here, and one device call is all a session gets, so each object walks a
# ladder of fallbacks instead of failing the call: C++17 then C++20 (newer libtorch headers may want it), and
#   shim.cc:  CUDA graphs on, then off;
#   c10d.cc:  with NCCL, then without, then native/src/c10d-none.cc (no process groups: --nproc is refused, the
#             single-process training this call needs is untouched).
# Every fallback taken is logged to $OUT/run.log with the compiler's first errors. Needs from the caller: TORCH, INC
# (array), LIB, ABI, W, OUT and `log`; exits 3 (the compilers' last lines in $OUT/run.log) when nothing links.
build_addon() {
  # CUDA runtime headers (c10/cuda includes cuda_runtime_api.h): the wheel's nvidia packages or a CUDA toolkit.
  for d in "$TORCH/../nvidia/cuda_runtime/include" "$TORCH/../nvidia/cu13/include" /usr/local/cuda/include; do
    [ -f "$d/cuda_runtime_api.h" ] && INC+=(-I"$d")
  done
  local NCCL_INC=()
  for d in "$TORCH/../nvidia/nccl/include" "$TORCH/../nvidia/cu13/include"; do [ -f "$d/nccl.h" ] && NCCL_INC=(-I"$d"); done
  local DEFS=(-DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -D_GLIBCXX_USE_CXX11_ABI=$ABI)
  local LIBS=(-ltorch -ltorch_cpu -lc10)
  if [ -f "$LIB/libtorch_cuda.so" ]; then DEFS+=(-DOODGEN_CUDA=1); LIBS+=(-ltorch_cuda -lc10_cuda); fi
  log "build addon against $LIB (${DEFS[*]})"
  # ladder OBJ LOG "SRC FLAGS..." ...: every rung, each with C++17 and C++20, compiles at once (the machine has 16
  # cores and each compile of the libtorch headers takes about a minute, so trying them one after another could eat
  # minutes of the call); the first rung in order of preference that compiled is kept.
  ladder() {
    local obj=$1 lg=$2; shift 2; : > "$lg"
    local rung std i=0 pids=() tries=()
    for rung in "$@"; do
      for std in c++17 c++20; do
        # shellcheck disable=SC2086
        g++ -std=$std -O2 -fPIC -c -Wno-deprecated-declarations "${DEFS[@]}" "${INC[@]}" $rung -o "$obj.$i" > "$lg.$i" 2>&1 &
        pids+=($!); tries+=("-std=$std $rung"); i=$((i + 1))
      done
    done
    local chosen=""
    for i in "${!pids[@]}"; do
      if wait "${pids[$i]}" && [ -z "$chosen" ]; then chosen=$i; fi
    done
    for i in "${!tries[@]}"; do
      [ -n "$chosen" ] && [ "$i" -gt "$chosen" ] && break
      if [ "$i" = "$chosen" ]; then echo "compiled: ${tries[$i]}" >> "$lg"
      else { echo "did not compile: ${tries[$i]}; first errors:"; grep -m 8 "error" "$lg.$i"; } >> "$lg"; fi
    done
    [ -n "$chosen" ] || return 1
    mv "$obj.$chosen" "$obj"
  }
  ladder "$W/shim.o" "$W/shim.log" "native/src/shim.cc" "-DOODGEN_CUDA_GRAPHS=0 native/src/shim.cc" &
  local p1=$!
  ladder "$W/c10d.o" "$W/c10d.log" "${NCCL_INC[*]} native/src/c10d.cc" "-DOODGEN_NO_NCCL native/src/c10d.cc" "native/src/c10d-none.cc" &
  local p2=$!
  wait $p1; local r1=$?; wait $p2; local r2=$?
  cat "$W/shim.log" "$W/c10d.log" | tee -a "$OUT/run.log"
  if [ $r1 != 0 ] || [ $r2 != 0 ] || ! g++ -shared "$W/shim.o" "$W/c10d.o" -o "$W/oodgen_native.node" -L"$LIB" -Wl,-rpath,"$LIB" -Wl,--no-as-needed "${LIBS[@]}" > "$W/link.log" 2>&1; then
    log "BUILD FAILED"; tail -40 "$W/link.log" 2>/dev/null | tee -a "$OUT/run.log"; exit 3
  fi
  export OODGEN_NATIVE=$W/oodgen_native.node
}
