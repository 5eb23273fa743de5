# install_etc.cmake - run by `cmake --install` (cmake/install.cmake): installs
# the files whose place or content depends on the install-time prefix.
#   CMAKE_INSTALL_PREFIX  the prefix (--prefix), DESTDIR from the environment
#   OMTP_SRC              the source tree
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${prefix}/etc")
endif()
set(dest "$ENV{DESTDIR}")

# the config: the sample, with the service's data directory set
file(READ "${OMTP_SRC}/omtpd.conf.sample" conf)
string(REPLACE "\n#data_dir = ./var\n"
               "\n#data_dir = ./var\n# (installed: the systemd unit's StateDirectory)\ndata_dir = /var/lib/omtp\n"
               conf "${conf}")
set(conf_path "${dest}${etc}/omtp/omtpd.conf")
if(EXISTS "${conf_path}")
  # never overwrite an operator's config: install the new one beside it
  set(conf_path "${conf_path}.new")
endif()
file(MAKE_DIRECTORY "${dest}${etc}/omtp")
file(WRITE "${conf_path}" "${conf}")
file(CHMOD "${conf_path}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
message(STATUS "Installing: ${conf_path}")

file(MAKE_DIRECTORY "${dest}${etc}/logrotate.d")
configure_file("${OMTP_SRC}/packaging/omtpd.logrotate" "${dest}${etc}/logrotate.d/omtpd" COPYONLY)
message(STATUS "Installing: ${dest}${etc}/logrotate.d/omtpd")

set(OMTP_BINDIR "${prefix}/bin")
set(OMTP_CONFDIR "${etc}/omtp")
set(OMTP_DOCDIR "${prefix}/share/doc/omtp")
file(MAKE_DIRECTORY "${dest}${prefix}/lib/systemd/system")
configure_file("${OMTP_SRC}/packaging/omtpd.service.in"
               "${dest}${prefix}/lib/systemd/system/omtpd.service" @ONLY)
message(STATUS "Installing: ${dest}${prefix}/lib/systemd/system/omtpd.service")
