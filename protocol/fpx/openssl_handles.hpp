// Owning handles for OpenSSL objects: each pointer lives in a unique_ptr with
// its free function, so no path (early return, error) can leak one.
// Only protocol/ and the PKI tool include this; the broker sees fpx types.
#pragma once

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace fpx::ossl {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* pointer) const {
    FreeFn(pointer);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>>;
using Asn1Utf8StringPtr = std::unique_ptr<ASN1_UTF8STRING, Deleter<ASN1_UTF8STRING_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;
// sk_X509_* are macros, so they get small named functions to point at.
inline void free_stack_only(STACK_OF(X509) * stack) { sk_X509_free(stack); }
inline void free_stack_and_certificates(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }
// Borrows its certificates.
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<free_stack_only>>;
// Owns a reference to each certificate (what X509_STORE_CTX_get1_chain returns).
using X509OwningStackPtr = std::unique_ptr<STACK_OF(X509), Deleter<free_stack_and_certificates>>;

// The most recent OpenSSL error queue entry as text (and clears the queue),
// so an error message can say what OpenSSL objected to.
std::string last_error_text();

}  // namespace fpx::ossl
