// Ed25519 (RFC 8032) signing with an expanded secret, on libcrypto BIGNUMs.
// Point arithmetic: extended homogeneous coordinates (X:Y:Z:T), x = X/Z, y = Y/Z,
// xy = T/Z, with the complete "add-2008-hwcd-3" formulas for a = -1 (Hisil, Wong,
// Carter, Dawson 2008), used for doubling too.
#include "protocols/mysql/ed25519.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>

namespace segproxy::protocols::mysql {

namespace {

using Bn = std::unique_ptr<BIGNUM, decltype(&BN_clear_free)>;
Bn bn() { return Bn(BN_new(), BN_clear_free); }
Bn bn_dec(const char* dec) {
  BIGNUM* b = nullptr;
  if (BN_dec2bn(&b, dec) == 0) return Bn(nullptr, BN_clear_free);
  return Bn(b, BN_clear_free);
}

struct Point {
  Bn x = bn(), y = bn(), z = bn(), t = bn();
  bool ok() const { return x && y && z && t; }
};

// Curve constants and scratch space for one signing operation (no globals).
class Curve {
 public:
  Curve()
      : ctx_(BN_CTX_new(), BN_CTX_free),
        p_(bn_dec("57896044618658097711785492504343953926634992332820282019728792003956564819949")),
        d_(bn_dec("37095705934669439343138083508754565189542113879843219016388785533085940283555")),
        l_(bn_dec("7237005577332262213973186563042994240857116359379907606001950938285454250989")),
        bx_(bn_dec("15112221349535400772501151409588531511454012693041857206046113283949847762202")),
        by_(bn_dec("46316835694926478169428394003475163141307993866256225615783033603165251855960")),
        d2_(bn()) {
    ok_ = ctx_ && p_ && d_ && l_ && bx_ && by_ && d2_ && BN_mod_add(d2_.get(), d_.get(), d_.get(), p_.get(), ctx_.get());
  }
  bool ok() const { return ok_; }
  const BIGNUM* l() const { return l_.get(); }
  BN_CTX* ctx() { return ctx_.get(); }

  // r = k * B (k: little-endian scalar, fully used).
  bool base_mult(const BIGNUM* k, Point& r) {
    Point base;
    if (!r.ok() || !base.ok() || !BN_copy(base.x.get(), bx_.get()) || !BN_copy(base.y.get(), by_.get()) ||
        !BN_one(base.z.get()) || !mul(base.t.get(), bx_.get(), by_.get()))
      return false;
    // Identity (0, 1, 1, 0).
    BN_zero(r.x.get());
    BN_zero(r.t.get());
    if (!BN_one(r.y.get()) || !BN_one(r.z.get())) return false;
    for (int i = BN_num_bits(k) - 1; i >= 0; --i) {
      if (!add(r, r)) return false;
      if (BN_is_bit_set(k, i) && !add(r, base)) return false;
    }
    return true;
  }

  // 32 bytes: y little-endian, sign of x in the top bit.
  bool encode(const Point& pt, std::uint8_t out[32]) {
    Bn zi = bn(), x = bn(), y = bn();
    if (!zi || !x || !y || BN_mod_inverse(zi.get(), pt.z.get(), p_.get(), ctx_.get()) == nullptr ||
        !mul(x.get(), pt.x.get(), zi.get()) || !mul(y.get(), pt.y.get(), zi.get()) ||
        BN_bn2lebinpad(y.get(), out, 32) != 32)
      return false;
    if (BN_is_odd(x.get())) out[31] |= 0x80;
    return true;
  }

 private:
  bool mul(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { return BN_mod_mul(r, a, b, p_.get(), ctx_.get()) == 1; }
  bool addm(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { return BN_mod_add(r, a, b, p_.get(), ctx_.get()) == 1; }
  bool subm(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { return BN_mod_sub(r, a, b, p_.get(), ctx_.get()) == 1; }

  // p1 = p1 + p2 (p2 may alias p1).
  bool add(Point& p1, const Point& p2) {
    Bn a = bn(), b = bn(), c = bn(), d = bn(), e = bn(), f = bn(), g = bn(), h = bn(), u = bn(), v = bn();
    if (!a || !b || !c || !d || !e || !f || !g || !h || !u || !v) return false;
    return subm(u.get(), p1.y.get(), p1.x.get()) && subm(v.get(), p2.y.get(), p2.x.get()) &&
           mul(a.get(), u.get(), v.get()) &&                                                   // A
           addm(u.get(), p1.y.get(), p1.x.get()) && addm(v.get(), p2.y.get(), p2.x.get()) &&
           mul(b.get(), u.get(), v.get()) &&                                                   // B
           mul(u.get(), p1.t.get(), d2_.get()) && mul(c.get(), u.get(), p2.t.get()) &&         // C
           mul(u.get(), p1.z.get(), p2.z.get()) && addm(d.get(), u.get(), u.get()) &&          // D
           subm(e.get(), b.get(), a.get()) && subm(f.get(), d.get(), c.get()) &&               // E, F
           addm(g.get(), d.get(), c.get()) && addm(h.get(), b.get(), a.get()) &&               // G, H
           mul(p1.x.get(), e.get(), f.get()) && mul(p1.y.get(), g.get(), h.get()) &&
           mul(p1.t.get(), e.get(), h.get()) && mul(p1.z.get(), f.get(), g.get());
  }

  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx_;
  Bn p_, d_, l_, bx_, by_, d2_;
  bool ok_ = false;
};

bool sha512(std::initializer_list<std::span<const std::uint8_t>> parts, std::uint8_t out[64]) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1) return false;
  for (const auto& p : parts) {
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return false;
  }
  unsigned int n = 0;
  return EVP_DigestFinal_ex(ctx.get(), out, &n) == 1 && n == 64;
}

// The clamped secret scalar a from h[0..32].
Bn clamped_scalar(std::span<const std::uint8_t, 64> h) {
  std::uint8_t s[32];
  for (int i = 0; i < 32; ++i) s[i] = h[static_cast<std::size_t>(i)];
  s[0] &= 248;
  s[31] &= 63;
  s[31] |= 64;
  Bn a(BN_lebin2bn(s, 32, nullptr), BN_clear_free);
  OPENSSL_cleanse(s, sizeof s);
  return a;
}

// 64-byte little-endian digest reduced mod l.
Bn reduced(Curve& c, const std::uint8_t digest[64]) {
  Bn v(BN_lebin2bn(digest, 64, nullptr), BN_clear_free);
  if (!v || BN_nnmod(v.get(), v.get(), c.l(), c.ctx()) != 1) return Bn(nullptr, BN_clear_free);
  return v;
}

struct Wipe {
  std::uint8_t* p;
  std::size_t n;
  ~Wipe() { OPENSSL_cleanse(p, n); }
};

}  // namespace

std::optional<Ed25519PublicKey> ed25519_public_key_expanded(std::span<const std::uint8_t, 64> h) {
  Curve c;
  Bn a = clamped_scalar(h);
  Point A;
  Ed25519PublicKey out{};
  if (!c.ok() || !a || !c.base_mult(a.get(), A) || !c.encode(A, out.data())) return std::nullopt;
  return out;
}

std::optional<Ed25519Signature> ed25519_sign_expanded(std::span<const std::uint8_t, 64> h,
                                                      std::span<const std::uint8_t> message) {
  Curve c;
  if (!c.ok()) return std::nullopt;
  Bn a = clamped_scalar(h);
  Point A, R;
  std::uint8_t pub[32];
  if (!a || !c.base_mult(a.get(), A) || !c.encode(A, pub)) return std::nullopt;
  // r = SHA-512(prefix || M) mod l; R = r * B.
  std::uint8_t digest[64];
  Wipe wipe{digest, sizeof digest};
  if (!sha512({h.subspan<32, 32>(), message}, digest)) return std::nullopt;
  Bn r = reduced(c, digest);
  Ed25519Signature sig{};
  if (!r || !c.base_mult(r.get(), R) || !c.encode(R, sig.data())) return std::nullopt;
  // k = SHA-512(R || A || M) mod l; S = (r + k * a) mod l.
  if (!sha512({std::span<const std::uint8_t>(sig.data(), 32), std::span<const std::uint8_t>(pub, 32), message},
              digest))
    return std::nullopt;
  Bn k = reduced(c, digest);
  Bn s = bn();
  if (!k || !s || BN_mod_mul(s.get(), k.get(), a.get(), c.l(), c.ctx()) != 1 ||
      BN_mod_add(s.get(), s.get(), r.get(), c.l(), c.ctx()) != 1 || BN_bn2lebinpad(s.get(), sig.data() + 32, 32) != 32)
    return std::nullopt;
  return sig;
}

std::optional<Ed25519Signature> client_ed25519_response(std::string_view password,
                                                        std::span<const std::uint8_t> nonce) {
  std::array<std::uint8_t, 64> h{};
  Wipe wipe{h.data(), h.size()};
  const std::span<const std::uint8_t> pw(reinterpret_cast<const std::uint8_t*>(password.data()), password.size());
  if (!sha512({pw}, h.data())) return std::nullopt;
  return ed25519_sign_expanded(h, nonce);
}

std::optional<Ed25519PublicKey> client_ed25519_public_key(std::string_view password) {
  std::array<std::uint8_t, 64> h{};
  Wipe wipe{h.data(), h.size()};
  const std::span<const std::uint8_t> pw(reinterpret_cast<const std::uint8_t*>(password.data()), password.size());
  if (!sha512({pw}, h.data())) return std::nullopt;
  return ed25519_public_key_expanded(h);
}

}  // namespace segproxy::protocols::mysql
