# sr-http tests: tests/http/run.sh starts the real server on a free loopback
# port and drives it with curl (jq reads the JSON). Included from
# tests/CMakeLists.txt.
#
# Builds: under ASan, TSan and in the collector-stress build every suite runs
# in "quick" form (a smaller load, longer time limits, no RSS bound: the
# sanitizers' shadow memory and the stress collections change what RSS and time
# measure); the server's exit status after SIGTERM carries the sanitizer's
# verdict. Under valgrind the server itself runs under SR_TEST_LAUNCHER. The
# load suite is skipped under valgrind and TSan to keep CI short (under TSan it
# passes: `TSAN_OPTIONS=halt_on_error=1 tests/http/run.sh build/tsan/examples/sr-http load quick`).
# examples/ is configured after tests/: look for libmicrohttpd the same way it does.
pkg_check_modules(SR_MHD_TESTS QUIET libmicrohttpd)
if(SR_BUILD_EXAMPLES AND SR_MHD_TESTS_FOUND)
  set(_hs_extra "")
  if(SR_SANITIZE OR SR_GC_STRESS OR SR_TEST_LAUNCHER OR SR_TSAN)
    set(_hs_extra quick)
  endif()
  string(REPLACE ";" " " _hs_launcher "${SR_TEST_LAUNCHER}")
  # name, suite, environment
  set(_hs_tests "statuses|statuses|SR_HTTP_RUNTIME=reset" "statuses_fresh|statuses|SR_HTTP_RUNTIME=fresh"
                "load|load|SR_HTTP_RUNTIME=reset" "shutdown|shutdown|SR_HTTP_RUNTIME=reset")
  foreach(t IN LISTS _hs_tests)
    string(REPLACE "|" ";" t "${t}")
    list(GET t 0 _hs_name)
    list(GET t 1 _hs_suite)
    list(GET t 2 _hs_env)
    if((SR_TSAN OR SR_TEST_LAUNCHER) AND _hs_suite STREQUAL "load")
      set(_hs_suite skip)
    endif()
    add_test(NAME http.${_hs_name}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/http/run.sh $<TARGET_FILE:sr-http> ${_hs_suite} ${_hs_extra})
    set_tests_properties(http.${_hs_name} PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                         ENVIRONMENT "${_hs_env};SR_HTTP_LAUNCHER=${_hs_launcher}")
  endforeach()
endif()
