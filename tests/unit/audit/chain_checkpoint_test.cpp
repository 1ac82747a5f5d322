// Hash chain links and Ed25519 checkpoint signatures; statement_text normalization.
#include <gtest/gtest.h>

#include "audit/checkpoint.hpp"
#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::audit {
namespace {

TEST(HashChain, EachRecordHashesPrevHashPlusCanonicalRecordWithoutHash) {
  const std::string genesis = random_genesis();
  ASSERT_EQ(genesis.size(), 64u);
  EXPECT_NE(genesis, random_genesis());
  HashChain chain(0, genesis);
  AuditRecord a, b;
  a.ts = b.ts = "2026-11-22T00:00:00.000000Z";
  a.event = "audit.start";
  b.event = "session.open";
  const std::string la = chain.append(a);
  const std::string lb = chain.append(b);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(b.seq, 2u);
  EXPECT_EQ(a.prev_hash, genesis);
  EXPECT_EQ(b.prev_hash, a.hash);
  EXPECT_EQ(a.hash, sha256_hex(genesis + encode_record(a, false)));
  EXPECT_EQ(chain.head(), b.hash);
  EXPECT_EQ(la, encode_record(a));
  b.cn = "changed";
  EXPECT_NE(compute_record_hash(b), b.hash);
}

TEST(HashChain, Sha256HexMatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashChain, ReusedSha256OverPiecesEqualsTheDigestOfTheirConcatenation) {
  Sha256 sha;
  EXPECT_EQ(sha.hex("a", "b", "c"), sha256_hex("abc"));
  EXPECT_EQ(sha.hex("", "abc", ""), sha256_hex("abc"));  // the context is reset per call
  const std::string big(10000, 'x');
  EXPECT_EQ(sha.hex("prev", big, "}"), sha256_hex("prev" + big + "}"));
}

AuditRecord make_checkpoint() {
  AuditRecord cp;
  cp.seq = 11;
  cp.ts = "2026-11-22T00:00:00.000000Z";
  cp.event = "audit.checkpoint";
  cp.head_seq = 10;
  cp.head_hash = std::string(64, 'c');
  cp.prev_hash = cp.head_hash;
  return cp;
}

TEST(Checkpoint, SignatureVerifiesWithTheMatchingPublicKey) {
  const auto pair = generate_ed25519_pem();
  std::string err;
  auto signer = CheckpointSigner::from_pem(pair.private_pem, err);
  ASSERT_TRUE(signer) << err;
  auto verifier = CheckpointVerifier::from_pem(pair.public_pem, err);
  ASSERT_TRUE(verifier) << err;
  EXPECT_EQ(signer->key_id(), verifier->key_id());
  EXPECT_EQ(signer->key_id().size(), 16u);
  AuditRecord cp = make_checkpoint();
  signer->sign(cp);
  EXPECT_EQ(cp.signature.size(), 128u);
  EXPECT_TRUE(verifier->verify(cp));
  // A private key file also works as the verification key.
  auto from_private = CheckpointVerifier::from_pem(pair.private_pem, err);
  ASSERT_TRUE(from_private);
  EXPECT_TRUE(from_private->verify(cp));
}

TEST(Checkpoint, WrongKeyOrAlteredPayloadFailsVerification) {
  const auto a = generate_ed25519_pem(), b = generate_ed25519_pem();
  std::string err;
  auto signer = CheckpointSigner::from_pem(a.private_pem, err);
  auto other = CheckpointVerifier::from_pem(b.public_pem, err);
  auto right = CheckpointVerifier::from_pem(a.public_pem, err);
  ASSERT_TRUE(signer && other && right);
  AuditRecord cp = make_checkpoint();
  signer->sign(cp);
  EXPECT_FALSE(other->verify(cp));
  // Same key_id claimed, still fails: the signature itself is checked.
  AuditRecord forged = cp;
  forged.key_id = other->key_id();
  EXPECT_FALSE(other->verify(forged));
  AuditRecord altered = cp;
  altered.head_seq = 12;
  EXPECT_FALSE(right->verify(altered));
  EXPECT_FALSE(right->verify_hex(checkpoint_payload(cp), "zz"));
}

TEST(Checkpoint, NonEd25519OrGarbageKeysAreRejected) {
  std::string err;
  EXPECT_FALSE(CheckpointSigner::from_pem("not a key", err));
  EXPECT_FALSE(CheckpointVerifier::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", err));
}

TEST(StatementText, NormalizedReplacesEveryLiteralSoSecretsNeverSurvive) {
  EXPECT_EQ(normalize_statement("select * from t where a = 'x''y' and b = 42 and c = 1.5e-3", "postgresql"),
            "select * from t where a = ? and b = ? and c = ?");
  EXPECT_EQ(normalize_statement("ALTER USER bob PASSWORD 'hunter2'", "postgresql"),
            "ALTER USER bob PASSWORD ?");
  EXPECT_EQ(normalize_statement("select E'a\\'secret', $$dollar secret$$, $t$x$t$, $1 from t1", "postgresql"),
            "select E?, ?, ?, $1 from t1");
  EXPECT_EQ(normalize_statement("select \"Col1\" from x -- secret\n", "postgresql"),
            "select \"Col1\" from x  \n");
  EXPECT_EQ(normalize_statement("select 'unterminated secret", "postgresql"), "select ?");
  EXPECT_EQ(normalize_statement("select \"secret\", 'a\\'b', `c1` from t # s", "mysql"),
            "select ?, ?, `c1` from t  ");
  EXPECT_EQ(normalize_statement("/* hint secret */select 1", "postgresql"), " select ?");
}

TEST(StatementText, ModesFullNormalizedNone) {
  EXPECT_EQ(apply_statement_text(StatementText::full, "select 1", "postgresql"), "select 1");
  EXPECT_EQ(apply_statement_text(StatementText::normalized, "select 1", "postgresql"), "select ?");
  EXPECT_EQ(apply_statement_text(StatementText::none, "select 1", "postgresql"), "");
}

}  // namespace
}  // namespace segproxy::audit
