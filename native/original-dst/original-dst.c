/*
 * original-dst: the destination a TCP connection had before an iptables REDIRECT sent it to the proxy.
 *
 * Node has no API for getsockopt(SO_ORIGINAL_DST), so this tiny N-API addon exports one function:
 *
 *   get(fd: number): [address: string, port: number, family: 4 | 6] | undefined
 *
 * It returns undefined when the kernel has no NAT record for the connection (ENOENT: it was not
 * redirected) and throws an Error whose `code` is the errno name (e.g. "ENOTSOCK") for anything else.
 *
 * Plain C on node_api.h only (no node-addon-api, no node-gyp): scripts/build-native.ts compiles it with the
 * system compiler. N-API is ABI-stable, so headers of an older Node build an addon that loads in Node 24;
 * NAPI_VERSION pins the API level we use (8 is in every Node since 12.22/14.17, all we need is level 1).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/*
 * From linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h. Defined here rather than included
 * because those kernel headers clash with glibc's netinet/in.h; the values are kernel ABI and never change.
 */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

/* Throws an Error with code = errno name and a message naming the call that failed. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  const char *name = strerrorname_np(err);
  snprintf(message, sizeof message, "%s failed: %s (%s)", what, strerror(err), name ? name : "?");
  napi_throw_error(env, name, message);
  return NULL;
}

static napi_value get(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "get(fd): fd must be a number");
    return NULL;
  }
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  if (fd < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "get(fd): fd must be a non-negative integer");
    return NULL;
  }

  /*
   * The socket's own family decides which getsockopt to use. A dual-stack listener (Node's default for
   * an unspecified host) accepts IPv4 connections as AF_INET6 sockets with a v4-mapped local address;
   * those are tracked by IPv4 conntrack, so they take the SOL_IP path and report family 4.
   */
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return throw_errno(env, "getsockname", errno);

  int v4 = local.ss_family == AF_INET;
  if (local.ss_family == AF_INET6) {
    v4 = IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr);
  } else if (!v4) {
    napi_throw_error(env, "EAFNOSUPPORT", "get(fd): not an IPv4 or IPv6 socket");
    return NULL;
  }

  char text[INET6_ADDRSTRLEN];
  int port;
  if (v4) {
    struct sockaddr_in dst;
    socklen_t len = sizeof dst;
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) {
      if (errno == ENOENT) return NULL;
      return throw_errno(env, "getsockopt(SOL_IP, SO_ORIGINAL_DST)", errno);
    }
    inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text);
    port = ntohs(dst.sin_port);
  } else {
    struct sockaddr_in6 dst;
    socklen_t len = sizeof dst;
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) != 0) {
      if (errno == ENOENT) return NULL;
      return throw_errno(env, "getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)", errno);
    }
    inet_ntop(AF_INET6, &dst.sin6_addr, text, sizeof text);
    port = ntohs(dst.sin6_port);
  }

  napi_value result, address, port_value, family;
  if (napi_create_array_with_length(env, 3, &result) != napi_ok) return NULL;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &port_value);
  napi_create_int32(env, v4 ? 4 : 6, &family);
  napi_set_element(env, result, 0, address);
  napi_set_element(env, result, 1, port_value);
  napi_set_element(env, result, 2, family);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "get", NAPI_AUTO_LENGTH, get, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "get", fn) != napi_ok) return NULL;
  return exports;
}
