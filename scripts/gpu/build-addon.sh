# Sourced by scripts/gpu/issue15.sh and scripts/gpu/zoo.sh: builds the addon (shim + c10d) on the device machine with
# g++ against the libtorch it has, one object each in parallel, falling back without CUDA graphs / NCCL when those do
# not compile there, and exports OODGEN_NATIVE. Needs from the caller: TORCH, INC (array), LIB, ABI, W, OUT and `log`;
# exits 3 (with the compiler's last lines in $OUT/run.log) when the link fails.
build_addon() {
  # CUDA runtime headers (c10/cuda includes cuda_runtime_api.h): the wheel's nvidia packages or a CUDA toolkit.
  for d in "$TORCH/../nvidia/cuda_runtime/include" /usr/local/cuda/include; do [ -f "$d/cuda_runtime_api.h" ] && INC+=(-I"$d"); done
  local NCCL_INC=()
  [ -f "$TORCH/../nvidia/nccl/include/nccl.h" ] && NCCL_INC=(-I"$TORCH/../nvidia/nccl/include")
  local DEFS=(-DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -D_GLIBCXX_USE_CXX11_ABI=$ABI)
  local LIBS=(-ltorch -ltorch_cpu -lc10)
  if [ -f "$LIB/libtorch_cuda.so" ]; then DEFS+=(-DOODGEN_CUDA=1); LIBS+=(-ltorch_cuda -lc10_cuda); fi
  local CXX=(g++ -std=c++17 -O2 -fPIC -c -Wno-deprecated-declarations "${DEFS[@]}" "${INC[@]}")
  log "build addon against $LIB (${DEFS[*]})"
  ( "${CXX[@]}" native/src/shim.cc -o "$W/shim.o" > "$W/shim.log" 2>&1 || {
      echo "CUDA graphs did not compile; rebuilding without them" >> "$W/shim.log"
      "${CXX[@]}" -DOODGEN_CUDA_GRAPHS=0 native/src/shim.cc -o "$W/shim.o" >> "$W/shim.log" 2>&1; } ) &
  ( "${CXX[@]}" "${NCCL_INC[@]}" native/src/c10d.cc -o "$W/c10d.o" > "$W/c10d.log" 2>&1 || {
      echo "c10d with NCCL did not compile; rebuilding without NCCL" >> "$W/c10d.log"
      "${CXX[@]}" -DOODGEN_NO_NCCL native/src/c10d.cc -o "$W/c10d.o" >> "$W/c10d.log" 2>&1; } ) &
  wait
  if ! g++ -shared "$W/shim.o" "$W/c10d.o" -o "$W/oodgen_native.node" -L"$LIB" -Wl,-rpath,"$LIB" -Wl,--no-as-needed "${LIBS[@]}" > "$W/link.log" 2>&1; then
    log "BUILD FAILED"; tail -40 "$W"/shim.log "$W"/c10d.log "$W"/link.log | tee -a "$OUT/run.log"; exit 3
  fi
  grep -h "did not compile" "$W"/shim.log "$W"/c10d.log | tee -a "$OUT/run.log"
  grep -h "error" "$W"/shim.log "$W"/c10d.log | head -20 >> "$OUT/run.log"
  export OODGEN_NATIVE=$W/oodgen_native.node
}
