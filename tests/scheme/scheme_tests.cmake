# The sr-scheme test programs: every tests/scheme/*.scm runs through
# run_test.cmake (expected stdout, stderr and exit status). Under a test
# launcher (valgrind), in the stress build and under ThreadSanitizer the
# programs scale their big loops down. Included from tests/CMakeLists.txt; needs the examples (SR_BUILD_EXAMPLES).
if(SR_BUILD_EXAMPLES)
  set(_sc_launcher "")
  if(SR_TEST_LAUNCHER)
    string(REPLACE ";" "|" _sc_launcher "${SR_TEST_LAUNCHER}")
  endif()
  set(_sc_small 0)
  if(SR_TEST_LAUNCHER OR SR_GC_STRESS OR SR_TSAN)
    # ThreadSanitizer also limits a stack it records to 65,536 frames
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
  # The baseline and reset entry points (sr-http's reset mode), through the
  # interpreter's embedding header.
  add_executable(scheme_reset ${CMAKE_CURRENT_SOURCE_DIR}/scheme/reset.c)
  target_compile_options(scheme_reset PRIVATE ${SR_WARNINGS})
  target_link_libraries(scheme_reset PRIVATE sr_scheme_core PkgConfig::SR_CMOCKA)
  sr_add_test(scheme.reset scheme_reset)
  # The game loop: frames under protected execution, scripted failures included.
  add_test(NAME scheme.game_loop COMMAND ${SR_TEST_LAUNCHER} $<TARGET_FILE:sr-game-loop> 55)
  set_tests_properties(scheme.game_loop PROPERTIES TIMEOUT 300
    PASS_REGULAR_EXPRESSION "frames: 55   script errors handled: 1.*frame time .*p99.*collection pause / frame .*p99")
endif()
