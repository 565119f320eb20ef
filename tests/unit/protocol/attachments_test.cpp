// Attachments (issue 17): sealed by hash in the signed header, their bytes
// checked by open() against those hashes, limits and types on both ends.
#include <catch2/catch.hpp>

#include "fpx/attachments.hpp"
#include "fpx/envelope.hpp"
#include "support/attachment_envelopes.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using fpx::test::TestPki;

namespace {

Bytes text_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

AttachmentFile attachment(std::string_view name, Bytes bytes) {
  auto made = make_attachment(name, std::move(bytes));
  REQUIRE(made.ok());
  return std::move(made).value();
}

ErrorCode open_error(EnvelopeOpener& opener, const Bytes& bytes) {
  auto opened = opener.open(bytes);
  return opened ? ErrorCode::none : opened.error().code;
}

}  // namespace

TEST_CASE("a request with a photo and a document opens with both files and their signed entries") {
  TestPki pki({"SN", "NE"});
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto signer = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  const Bytes photo = test::make_png(2000);
  const Bytes document = text_bytes("%PDF-1.4\n% a scanned page\n");
  auto sealed = test::seal_request_with(signer, {attachment("marquage.png", photo), attachment("pv.pdf", document)});
  auto opened = opener.open(sealed);
  REQUIRE(opened.ok());
  const auto entries = attachments_of(opened->message.header());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].file_name == "marquage.png");
  CHECK(entries[0].media_type == wire::MediaType::IMAGE_PNG);
  CHECK(entries[0].size == photo.size());
  CHECK(entries[1].media_type == wire::MediaType::APPLICATION_PDF);
  REQUIRE(opened->message.attachments().size() == 2);
  CHECK(opened->message.attachments()[0] == photo);
  CHECK(opened->message.attachments()[1] == document);
  CHECK(verify_attachment_bytes(entries[0], photo).ok());
  CHECK(verify_attachment_bytes(entries[0], document).error().code == ErrorCode::body_hash_mismatch);
}

TEST_CASE("a message without attachments keeps the header bytes it had before the field existed") {
  TestPki pki({"SN", "NE"});
  auto signer = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto opened = opener.open(test::seal_request_with(signer, {}));
  REQUIRE(opened.ok());
  CHECK_FALSE(opened->message.header().hasAttachments());
  CHECK(opened->message.attachments().empty());
}

TEST_CASE("attachment bytes swapped after sealing are refused as a hash mismatch") {
  TestPki pki({"SN", "NE"});
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto signer = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  auto sealed = test::seal_request_with(signer, {attachment("a.png", test::make_png(500))});
  REQUIRE(opener.open(sealed).ok());
  Bytes other = test::make_png(500);
  other.back() = 1;
  CHECK(open_error(opener, test::replace_attachment_bytes(sealed, {other})) == ErrorCode::body_hash_mismatch);
  CHECK(open_error(opener, test::replace_attachment_bytes(sealed, {})) == ErrorCode::body_hash_mismatch);
  CHECK(open_error(opener, test::replace_attachment_bytes(sealed, {test::make_png(500), test::make_png(500)})) ==
        ErrorCode::body_hash_mismatch);
}

TEST_CASE("a signed entry over a limit or of a forbidden type is refused by open") {
  TestPki pki({"SN", "NE"});
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto signer = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  using test::RawAttachment;
  SECTION("one file over the per-file limit") {
    const Bytes big = test::make_png(kMaxAttachmentBytes + 1);
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"big.png", wire::MediaType::IMAGE_PNG, big, big}})) ==
          ErrorCode::too_large);
  }
  SECTION("files over the per-message limit together") {
    const Bytes part = test::make_png(kMaxAttachmentBytesPerMessage / 2 + 8);
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"a.png", wire::MediaType::IMAGE_PNG, part, part},
                                                                 {"b.png", wire::MediaType::IMAGE_PNG, part, part}})) ==
          ErrorCode::too_large);
  }
  SECTION("more files than the count limit") {
    std::vector<RawAttachment> many(kMaxAttachments + 1, {"a.png", wire::MediaType::IMAGE_PNG, test::make_png(),
                                                          test::make_png()});
    CHECK(open_error(opener, test::seal_raw_attachments(signer, many)) == ErrorCode::too_large);
  }
  SECTION("an HTML page renamed .png") {
    const Bytes html = text_bytes("<html><script>alert(1)</script></html>");
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"photo.png", wire::MediaType::IMAGE_PNG, html, html}})) ==
          ErrorCode::schema_violation);
  }
  SECTION("an SVG image with a script declared as PNG") {
    const Bytes svg = text_bytes("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>");
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"mark.png", wire::MediaType::IMAGE_PNG, svg, svg}})) ==
          ErrorCode::schema_violation);
  }
  SECTION("a media type outside the allow-list") {
    const Bytes png = test::make_png();
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"a.png", wire::MediaType::UNSPECIFIED, png, png}})) ==
          ErrorCode::schema_violation);
  }
  SECTION("a file name with a path") {
    const Bytes png = test::make_png();
    CHECK(open_error(opener, test::seal_raw_attachments(
                                 signer, {{"../../.bashrc.png", wire::MediaType::IMAGE_PNG, png, png}})) ==
          ErrorCode::schema_violation);
  }
  SECTION("a file name whose extension is not its type") {
    const Bytes png = test::make_png();
    CHECK(open_error(opener, test::seal_raw_attachments(signer, {{"page.html", wire::MediaType::IMAGE_PNG, png, png}})) ==
          ErrorCode::schema_violation);
  }
}

TEST_CASE("make_attachment checks the bytes and sanitises the name") {
  SECTION("a type is read from the magic bytes") {
    CHECK(make_attachment("x.png", test::make_jpeg_like(100))->media_type == wire::MediaType::IMAGE_JPEG);
    CHECK(make_attachment("x.png", test::make_jpeg_like(100))->file_name == "x.png.jpg");
  }
  SECTION("an HTML file is refused whatever its name") {
    CHECK(make_attachment("photo.jpg", text_bytes("<!doctype html><p>hi")).error().code == ErrorCode::schema_violation);
  }
  SECTION("a file over the limit is refused before anything else") {
    CHECK(make_attachment("big.png", test::make_png(kMaxAttachmentBytes + 1)).error().code == ErrorCode::too_large);
  }
  SECTION("paths and odd characters leave only a safe last component") {
    CHECK(sanitize_attachment_name("C:\\Users\\awa\\photo arme.PNG", wire::MediaType::IMAGE_PNG) == "photo arme.PNG");
    CHECK(sanitize_attachment_name("/etc/../.hidden<script>.png", wire::MediaType::IMAGE_PNG) == "hidden_script_.png");
    CHECK(sanitize_attachment_name("", wire::MediaType::APPLICATION_PDF) == "attachment.pdf");
    CHECK(sanitize_attachment_name("numéro.jpg", wire::MediaType::IMAGE_JPEG) == "num__ro.jpg");
    CHECK(sanitize_attachment_name(std::string(300, 'a') + ".pdf", wire::MediaType::APPLICATION_PDF).size() ==
          kMaxAttachmentFileName);
  }
  SECTION("the sealer refuses more files than the count limit") {
    TestPki pki({"SN"});
    auto signer = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
    std::vector<AttachmentFile> files(kMaxAttachments + 1, attachment("a.png", test::make_png()));
    capnp::MallocMessageBuilder header_message;
    capnp::MallocMessageBuilder body_message;
    auto header = header_message.initRoot<wire::Header>();
    auto body = body_message.initRoot<wire::Body>();
    body.initTracingRequest();
    CHECK(seal_envelope(signer, header, body.asReader(), files).error().code == ErrorCode::too_large);
  }
}
