# SEGPROXY_SANITIZE: build the daemon, segproxyctl and the tests with a sanitizer, in a
# build directory of its own (scripts/sanitize.sh uses build-asan/ and build-tsan/).
#   address,undefined  ASan + LSan + UBSan: every integration test (ctest -L integration)
#   thread             TSan: the tests labelled sanitize_thread (sessions, the session
#                      registry and the instance registry, revoke, reload, dynamic
#                      credentials; tests/integration/CMakeLists.txt)
# Reports are errors: the runtime options of scripts/sanitize.sh halt on the first one and
# write it to a log directory that the script requires to be empty. Suppressions (for
# third-party libraries only) live in tests/sanitizers/.
set(SEGPROXY_SANITIZE "" CACHE STRING "Sanitizer build: address,undefined | address | undefined | thread | empty (off)")
set_property(CACHE SEGPROXY_SANITIZE PROPERTY STRINGS "" "address,undefined" "address" "undefined" "thread")

if(SEGPROXY_SANITIZE STREQUAL "")
  return()
endif()
if(NOT SEGPROXY_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
  message(FATAL_ERROR "SEGPROXY_SANITIZE='${SEGPROXY_SANITIZE}': use address,undefined | address | undefined | thread")
endif()
message(STATUS "segproxy: building with -fsanitize=${SEGPROXY_SANITIZE}")

# -O1 -g: readable stacks at a bearable speed (the flags come after CMAKE_CXX_FLAGS_<CONFIG>,
# so -O1 wins over a build type's -O level). _FORTIFY_SOURCE is dropped: its checked
# libc wrappers bypass ASan's interceptors. Spelled as a SHELL: group because CMake
# de-duplicates compile options: a plain -U_FORTIFY_SOURCE equals the one the hardening
# flags put before -D_FORTIFY_SOURCE=2 and was silently dropped, leaving fortify on in
# every sanitizer build until the first ASan run (2026-12-07) noticed.
set(SEGPROXY_SANITIZE_COMPILE_OPTIONS -fsanitize=${SEGPROXY_SANITIZE} -fno-omit-frame-pointer -g -O1 "SHELL:-U _FORTIFY_SOURCE")
add_compile_options(${SEGPROXY_SANITIZE_COMPILE_OPTIONS})
add_link_options(-fsanitize=${SEGPROXY_SANITIZE})
if(SEGPROXY_SANITIZE MATCHES "undefined")
  # A UBSan finding is fatal in the process that hits it, whatever UBSAN_OPTIONS says.
  list(APPEND SEGPROXY_SANITIZE_COMPILE_OPTIONS -fno-sanitize-recover=undefined)
  add_compile_options(-fno-sanitize-recover=undefined)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # The instrumented code makes GCC 12's flow-sensitive warnings (-Wmaybe-uninitialized,
  # -Wstringop-*, -Wtsan on std::atomic_thread_fence in Asio) fire on code the Release
  # build compiles cleanly: the Release build is the warnings gate, here they stay warnings.
  list(APPEND SEGPROXY_SANITIZE_COMPILE_OPTIONS -Wno-error)
  add_compile_options(-Wno-error)
endif()

# SEGPROXY_SANITIZE_SKIP: targets compiled WITHOUT the sanitizer (plain flags of the build
# type, so their objects come from ccache of a Release build; linked into the binaries
# with the sanitizer runtime as usual). Meant for the quick runs of scripts/sanitize.sh
# (SEGPROXY_SANITIZE_QUICK): the pure libraries (json, protocols, config, tls, the SQL
# classifiers and write-ahead classes: no threads, no state shared between calls). TSan
# still sees every access made by the daemon, audit and authz code, where the threads are.
# The entry @integration stands for the integration test binaries and their support
# library (test code: under ASan their allocations, frees and libc calls still go
# through the runtime, and LeakSanitizer still checks them at exit).
set(SEGPROXY_SANITIZE_SKIP "" CACHE STRING "Targets left uninstrumented in a sanitizer build (@integration: the test binaries)")
function(segproxy_sanitize_apply_skip)
  set(skip ${SEGPROXY_SANITIZE_SKIP})
  if("@integration" IN_LIST skip)
    list(REMOVE_ITEM skip "@integration")
    get_property(tests GLOBAL PROPERTY SEGPROXY_IT_TARGETS_integration)
    list(APPEND skip segproxy_it_support ${tests})
  endif()
  foreach(t IN LISTS skip)
    if(NOT TARGET ${t})
      message(FATAL_ERROR "SEGPROXY_SANITIZE_SKIP: no target ${t}")
    endif()
    get_target_property(opts ${t} COMPILE_OPTIONS)
    list(REMOVE_ITEM opts ${SEGPROXY_SANITIZE_COMPILE_OPTIONS})
    set_target_properties(${t} PROPERTIES COMPILE_OPTIONS "${opts}")
  endforeach()
endfunction()

# The corpus-replay fuzz targets bring their own ASan/UBSan flags; TSan cannot be
# combined with them, and under ASan they would only repeat the flags above.
set(SEGPROXY_FUZZ_REPLAY_SANITIZERS OFF)  # a normal variable: shadows the option in this build
