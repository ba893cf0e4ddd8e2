# The sr-scheme test programs: every tests/scheme/*.scm runs through
# run_test.cmake (expected stdout, stderr and exit status). Under a test
# launcher (valgrind) or in the stress build the programs scale their big loops
# down. Included from tests/CMakeLists.txt; needs the examples (SR_BUILD_EXAMPLES).
if(SR_BUILD_EXAMPLES)
  set(_sc_launcher "")
  if(SR_TEST_LAUNCHER)
    string(REPLACE ";" "|" _sc_launcher "${SR_TEST_LAUNCHER}")
  endif()
  set(_sc_small 0)
  if(SR_TEST_LAUNCHER OR SR_GC_STRESS)
    set(_sc_small 1)
  endif()
  file(GLOB _sc_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/scheme/*.scm)
  foreach(t IN LISTS _sc_tests)
    get_filename_component(n ${t} NAME_WE)
    add_test(NAME scheme.${n}
             COMMAND ${CMAKE_COMMAND} -DSCHEME=$<TARGET_FILE:sr-scheme> -DTEST=${t}
                     -DLAUNCHER=${_sc_launcher} -DSMALL=${_sc_small}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/scheme/run_test.cmake)
    set_tests_properties(scheme.${n} PROPERTIES TIMEOUT 300)
  endforeach()
  # The game loop: frames under protected execution, scripted failures included.
  add_test(NAME scheme.game_loop COMMAND ${SR_TEST_LAUNCHER} $<TARGET_FILE:sr-game-loop> 55)
  set_tests_properties(scheme.game_loop PROPERTIES TIMEOUT 300
    PASS_REGULAR_EXPRESSION "frames: 55   script errors handled: 1.*frame time .*p99.*collection pause / frame .*p99")
endif()
