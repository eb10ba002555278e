add_library(relay_warnings INTERFACE)
target_compile_options(relay_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                                                 -Woverloaded-virtual)
if(RELAY_WERROR)
  target_compile_options(relay_warnings INTERFACE -Werror)
endif()
# GCC 12 reports -Wrestrict inside libstdc++'s std::string operator+ at -O2 and above (GCC bug 105329), and
# -Wmaybe-uninitialized inside std::variant's move of an alternative at -O3 (the orchestrator's action list):
# false positives in the library's own code, so they are silenced for optimised builds only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(relay_warnings INTERFACE $<$<NOT:$<CONFIG:Debug>>:-Wno-restrict -Wno-maybe-uninitialized>)
endif()
