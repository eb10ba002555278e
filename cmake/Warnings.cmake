add_library(relay_warnings INTERFACE)
target_compile_options(relay_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                                                 -Woverloaded-virtual)
if(RELAY_WERROR)
  target_compile_options(relay_warnings INTERFACE -Werror)
endif()
