# The API-sequence fuzz target.
#
# Every build: sr_fuzz_replay (the target's decode-and-check function in an
# ordinary executable) replays tests/fuzz/corpus/* as the ctest `fuzz_corpus`.
# With SR_FUZZ=ON (clang only; the `fuzz` preset): fuzz_api, a libFuzzer
# binary with ASan+UBSan, run by .ci/run for a bounded time:
#   ./build/fuzz/tests/fuzz_api -max_total_time=60 tests/fuzz/corpus
set(SR_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
add_executable(sr_fuzz_replay ${SR_FUZZ_DIR}/replay.c ${SR_FUZZ_DIR}/fuzz_api.c)
target_compile_options(sr_fuzz_replay PRIVATE ${SR_WARNINGS})
target_link_libraries(sr_fuzz_replay PRIVATE scriptrt_static Threads::Threads)
sr_add_test(fuzz_corpus sr_fuzz_replay ${SR_FUZZ_DIR}/corpus)

if(SR_FUZZ)
  add_executable(fuzz_api ${SR_FUZZ_DIR}/fuzz_api.c)
  target_compile_options(fuzz_api PRIVATE ${SR_WARNINGS} -fsanitize=fuzzer)
  target_link_options(fuzz_api PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_api PRIVATE scriptrt_static Threads::Threads)
endif()
