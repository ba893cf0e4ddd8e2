# sr-http tests: tests/http/run.sh starts the real server on a free loopback
# port and drives it with curl (jq reads the JSON). Included from
# tests/CMakeLists.txt. Under valgrind and ThreadSanitizer they are skipped
# (valgrind would take minutes per suite; libmicrohttpd is not instrumented
# for TSan); under ASan and in the stress build the load suite runs a smaller
# load and does not bound RSS (the sanitizer's quarantine and the collector
# stress change what RSS measures). Everything else is the same everywhere.
# examples/ is configured after tests/: look for libmicrohttpd the same way it does.
pkg_check_modules(SR_MHD_TESTS QUIET libmicrohttpd)
if(SR_BUILD_EXAMPLES AND SR_MHD_TESTS_FOUND)
  set(_hs_extra "")
  if(SR_SANITIZE OR SR_GC_STRESS)
    set(_hs_extra quick)
  endif()
  foreach(suite IN ITEMS statuses load shutdown)
    set(_hs_suite ${suite})
    if(SR_TEST_LAUNCHER OR SR_TSAN)
      set(_hs_suite skip)
    endif()
    add_test(NAME http.${suite}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/http/run.sh $<TARGET_FILE:sr-http> ${_hs_suite} ${_hs_extra})
    set_tests_properties(http.${suite} PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  endforeach()
  # the other isolation mode (a fresh runtime per program) answers the same
  set(_hs_suite statuses)
  if(SR_TEST_LAUNCHER OR SR_TSAN)
    set(_hs_suite skip)
  endif()
  add_test(NAME http.statuses_fresh
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/http/run.sh $<TARGET_FILE:sr-http> ${_hs_suite} ${_hs_extra})
  set_tests_properties(http.statuses_fresh PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                       ENVIRONMENT SR_HTTP_RUNTIME=fresh)
endif()
