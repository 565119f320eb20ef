// The desk's HTTP server (cpp-httplib), on 127.0.0.1 only. What it stops:
//  - other local users and pages: a random token made at each start, given
//    only in the URL printed to the officer, is exchanged for an HttpOnly,
//    SameSite=Strict session cookie; every other path answers 401 without it;
//  - DNS rebinding: the Host header must be 127.0.0.1:PORT or localhost:PORT (421);
//  - cross-site requests: every POST carries the session's CSRF token, and an
//    Origin or Sec-Fetch-Site from another site is refused (403);
//  - script injection and framing: a strict Content-Security-Policy (script
//    and style from 'self' only, no inline script), X-Frame-Options DENY;
//  - memory and thread exhaustion: bodies, headers and URIs bounded in bytes,
//    slow clients timed out, few event streams at once;
//  - file access by path: only the routes below exist; assets are compiled in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "desk_session.hpp"
#include "fpx/attachments.hpp"
#include "text.hpp"

namespace fpx::desk {

// A form post is a few kilobytes; this bounds what a local process can make
// the desk hold for one request (413 above it). It is also the form limit
// compiled into Debian's cpp-httplib library (8 KiB).
inline constexpr std::size_t kMaxRequestBodyBytes = 8 * 1024;
// The one larger body: the new-request form with its attachments (issue 17),
// multipart. All the files the exchange accepts in one message plus room for
// the form's text and the multipart framing; every other request keeps the
// 8 KiB limit, refused from its Content-Length before its body is read.
inline constexpr std::size_t kMaxNewRequestBodyBytes = kMaxAttachmentBytesPerMessage + 64 * 1024;
// Threads serving requests (pages, forms, event streams).
inline constexpr std::size_t kServerThreads = 12;
// Browser sessions (logins with the token) kept at once; the oldest is
// dropped first, so a script logging in in a loop cannot grow the table.
inline constexpr std::size_t kMaxSessions = 16;
// Server-sent event streams open at once: each holds one of the server's
// 12 threads, so more would starve the pages (503 above it). A stream whose
// tab was closed is noticed at its next write (kEventKeepAlive).
inline constexpr int kMaxEventStreams = 6;
// A client that sends nothing for this long is dropped (slow-loris).
inline constexpr int kReadTimeoutSeconds = 10;
// Requests served over one kept-alive connection, at most.
inline constexpr std::size_t kMaxKeepAliveRequests = 100;
// The event stream writes a comment this often, so a closed tab is noticed.
inline constexpr std::chrono::seconds kEventKeepAlive{5};

struct DeskOptions {
  int port = 0;  // 0: any free port
  text::Language language = text::Language::en;
};

class DeskServer {
 public:
  // Binds 127.0.0.1:port; the error says what to do (port taken, ...).
  static Result<std::unique_ptr<DeskServer>> bind(DeskSession& session, const DeskOptions& options);
  ~DeskServer();

  int port() const;
  // The URL to open: http://127.0.0.1:PORT/login?token=...
  std::string login_url() const;
  // Serves until stop() (from another thread).
  void serve();
  void stop();

 private:
  struct Impl;
  explicit DeskServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::desk
