// The KV cache's layout, shared by rope_norm_kv.comp (which writes it) and attn_decode.comp (which reads it).
// Define HEAD_DIM and KV_Q8 (0: f16, 1: int8) before including.
//
// A layer's K (and V) is a list of pages, each its own buffer within one binding's range. A page holds `page_rows`
// positions from its first, `page_start`; head row r = (position - page_start) * kv_heads + kv head. Per head row:
//   f16 (KV_Q8 = 0): HEAD_DIM values, two to a uint: value 2w in the low half of word w.
//   int8 (KV_Q8 = 1): HEAD_DIM values, four to a uint: value 4w + j in byte j of word w (two's complement); after the
//     page's page_rows * kv_heads rows of values, their scales: one f16 per block of 32 values, two to a uint (block 2s
//     in the low half of word s), KV_SCALE_WORDS words per head row. A value is its int8 times its block's scale.
// Rows are 16-byte aligned (HEAD_DIM is a multiple of 8, of 32 for int8), so a reader may take them as uvec4.

const uint KV_VALUES_PER_WORD = 2 + 2 * KV_Q8;
const uint KV_WORDS = HEAD_DIM / KV_VALUES_PER_WORD;        // value words per head row
const uint KV_SCALE_WORDS = (HEAD_DIM / 32 + 1) / 2;         // scale words per head row (int8 only)

// The four int8 values of a word, sign-extended.
vec4 kv_bytes(uint w)
{
    int i = int(w);
    return vec4(ivec4(i << 24, i << 16, i << 8, i) >> 24);
}
