#ifndef BITSFS_CCURL_SHIM_H
#define BITSFS_CCURL_SHIM_H

// Typed wrappers for libcurl's variadic setopt/getinfo calls, which Swift cannot import.
#include <curl/curl.h>

typedef size_t (*bitsfs_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode bitsfs_easy_set_long(CURL *easy, CURLoption option, long value) {
  return curl_easy_setopt(easy, option, value);
}

static inline CURLcode bitsfs_easy_set_off(CURL *easy, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(easy, option, value);
}

static inline CURLcode bitsfs_easy_set_string(CURL *easy, CURLoption option, const char *value) {
  return curl_easy_setopt(easy, option, value);
}

static inline CURLcode bitsfs_easy_set_pointer(CURL *easy, CURLoption option, void *value) {
  return curl_easy_setopt(easy, option, value);
}

static inline CURLcode bitsfs_easy_set_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
  return curl_easy_setopt(easy, option, value);
}

static inline CURLcode bitsfs_easy_set_callback(CURL *easy, CURLoption option,
                                                bitsfs_curl_data_callback value) {
  return curl_easy_setopt(easy, option, value);
}

typedef int (*bitsfs_curl_prereq_callback)(void *context, char *primary_ip, char *local_ip, int primary_port,
                                           int local_port);

static inline CURLcode bitsfs_easy_set_prereq(CURL *easy, bitsfs_curl_prereq_callback value) {
  return curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, value);
}

static inline CURLcode bitsfs_easy_get_long(CURL *easy, CURLINFO info, long *value) {
  return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode bitsfs_easy_get_pointer(CURL *easy, CURLINFO info, void **value) {
  return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode bitsfs_easy_get_string(CURL *easy, CURLINFO info, char **value) {
  return curl_easy_getinfo(easy, info, value);
}

static inline CURLMcode bitsfs_multi_set_long(CURLM *multi, CURLMoption option, long value) {
  return curl_multi_setopt(multi, option, value);
}

#endif
