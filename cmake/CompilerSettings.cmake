# Settings for first-party code only, on INTERFACE targets (as ccache does): third-party headers
# are not compiled with our warnings, and people building a release are not stopped by -Werror.
add_library(changetrail_settings INTERFACE)
target_compile_options(changetrail_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
if(CHANGETRAIL_WERROR)
  target_compile_options(changetrail_settings INTERFACE -Werror)
endif()
if(CHANGETRAIL_SANITIZE)
  target_compile_options(changetrail_settings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(changetrail_settings INTERFACE -fsanitize=address,undefined)
endif()
