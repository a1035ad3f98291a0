#!/usr/bin/env python3
"""Independent PyTorch forward pass of Hunyuan-A13B, written from docs/model.md (section 2), that writes
golden outputs for the engine's parity tests.

It reads a model directory in the Hugging Face layout (config.json, model.safetensors or shards with an index; linears
dense or GPTQ-Int4 as AutoGPTQ v1 writes them), runs the whole prompt at once (causal attention, no KV cache) and
writes, per prompt: the hidden state entering the first layer and leaving every layer, the logits of every position,
and a greedy continuation (each step a fresh full forward). CUDA is used when present, else the CPU; float64 on the
CPU, float32 on CUDA unless --dtype says otherwise.

    /usr/bin/python3 tools/parity/hunyuan_parity.py --model DIR --out golden.json --prompt 1,2,3 --prompt 4,5 --greedy 16
    /usr/bin/python3 tools/parity/hunyuan_parity.py --model DIR --check golden.json      # compare a fresh run with a golden
"""
import argparse
import base64
import hashlib
import json
import math
import os
import struct
import sys

try:
    import torch
except ImportError:
    sys.exit("hunyuan_parity: PyTorch is missing. On Debian: sudo apt-get install python3-torch (then run with /usr/bin/python3).")

SAFETENSORS_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "I32": torch.int32}


# ---------------------------------------------------------------------------------------------------- checkpoint files

def read_safetensors(path):
    """Every tensor of one .safetensors file, as torch tensors on the CPU."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            sys.exit(f"hunyuan_parity: {path}: tensor {name} has dtype {info['dtype']}, which this script does not read")
        begin, end = info["data_offsets"]
        raw = bytearray(data[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors


def checkpoint_files(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return ["model.safetensors"]


def load_tensors(model_dir):
    tensors = {}
    for name in checkpoint_files(model_dir):
        tensors.update(read_safetensors(os.path.join(model_dir, name)))
    return tensors


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------- weights

def unpack_int4(words, dim):
    """4-bit values packed 8 per int32, lowest bits first, along `dim` (0: rows, 1: columns)."""
    parts = [(words >> (4 * j)) & 0xF for j in range(8)]
    stacked = torch.stack(parts, dim=dim + 1)            # [..., 8] next to the packed dimension
    shape = list(words.shape)
    shape[dim] *= 8
    return stacked.reshape(shape)


class Weights:
    def __init__(self, tensors, dtype, device):
        self.t = tensors
        self.dtype = dtype
        self.device = device

    def dense(self, name):
        return self.t[name].to(torch.float64).to(self.dtype).to(self.device)

    def linear(self, prefix):
        """The [out, in] matrix of a linear layer: stored as is, or dequantized from GPTQ-Int4 (docs/model.md 4.1)."""
        if prefix + ".weight" in self.t:
            return self.dense(prefix + ".weight")
        if prefix + ".qweight" not in self.t:
            sys.exit(f"hunyuan_parity: no {prefix}.weight and no {prefix}.qweight in the checkpoint")
        q = unpack_int4(self.t[prefix + ".qweight"].to(torch.int64), 0)           # [in, out]
        zeros = unpack_int4(self.t[prefix + ".qzeros"].to(torch.int64), 1) + 1     # [groups, out], stored as zero - 1
        scales = self.t[prefix + ".scales"].to(torch.float64)                      # [groups, out]
        g = self.t[prefix + ".g_idx"].to(torch.int64)                               # [in]
        w = (q - zeros[g]).to(torch.float64) * scales[g]                            # [in, out]
        return w.t().contiguous().to(self.dtype).to(self.device)


# ---------------------------------------------------------------------------------------------------- the model

class Hunyuan:
    def __init__(self, model_dir, dtype, device):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        self.c = c
        w = Weights(load_tensors(model_dir), dtype, device)
        self.dtype, self.device = dtype, device
        self.layers_n = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c["num_key_value_heads"]
        self.head_dim = c.get("attention_head_dim", c["hidden_size"] // self.heads)
        self.eps = c["rms_norm_eps"]
        self.top_k = c["moe_topk"][0] if isinstance(c["moe_topk"], list) else c["moe_topk"]
        self.norm_top_k = c.get("norm_topk_prob", True)
        self.scaling = c.get("routed_scaling_factor", 1.0)
        self.experts = c["num_experts"]
        self.embed = w.dense("model.embed_tokens.weight")
        self.lm_head = w.dense("lm_head.weight") if "lm_head.weight" in w.t else self.embed   # tied (docs/model.md 3.3)
        self.final_norm = w.dense("model.norm.weight")
        self.layers = []
        for l in range(self.layers_n):
            p = f"model.layers.{l}."
            self.layers.append({
                "in_norm": w.dense(p + "input_layernorm.weight"),
                "q": w.linear(p + "self_attn.q_proj"), "k": w.linear(p + "self_attn.k_proj"),
                "v": w.linear(p + "self_attn.v_proj"), "o": w.linear(p + "self_attn.o_proj"),
                "q_norm": w.dense(p + "self_attn.query_layernorm.weight"),
                "k_norm": w.dense(p + "self_attn.key_layernorm.weight"),
                "post_norm": w.dense(p + "post_attention_layernorm.weight"),
                "router": w.dense(p + "mlp.gate.wg.weight"),
                "shared": [w.linear(p + f"mlp.shared_mlp.{n}_proj") for n in ("gate", "up", "down")],
                "experts": [[w.linear(p + f"mlp.experts.{e}.{n}_proj") for n in ("gate", "up", "down")] for e in range(self.experts)],
            })
        # RoPE (docs/model.md 2.2): NTK-alpha base, NeoX pairs (i, i + d/2); inverse frequencies and angles in fp32 as the
        # reference code computes them, then cos/sin in the working precision.
        alpha = (c.get("rope_scaling") or {}).get("alpha", 1.0)
        d = self.head_dim
        base = c["rope_theta"] * alpha ** (d / (d - 2))
        self.inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float32) / d))

    def rms_norm(self, x, weight):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * weight

    def rope(self, x, positions):
        # x: [T, heads, d]
        angles = positions.to(torch.float32)[:, None] * self.inv_freq[None, :]        # fp32, [T, d/2]
        angles = torch.cat([angles, angles], dim=-1).to(torch.float64)
        cos = torch.cos(angles).to(self.dtype).to(self.device)[:, None, :]
        sin = torch.sin(angles).to(self.dtype).to(self.device)[:, None, :]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def attention(self, x, L):
        T, d = x.shape[0], self.head_dim
        q = (x @ L["q"].t()).reshape(T, self.heads, d)
        k = (x @ L["k"].t()).reshape(T, self.kv_heads, d)
        v = (x @ L["v"].t()).reshape(T, self.kv_heads, d)
        positions = torch.arange(T)
        q = self.rms_norm(self.rope(q, positions), L["q_norm"])        # RoPE first, then QK-norm (docs/model.md 2.3)
        k = self.rms_norm(self.rope(k, positions), L["k_norm"])
        group = self.heads // self.kv_heads
        k = k.repeat_interleave(group, dim=1)                           # query head h reads kv head h // group
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(d)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=self.device), diagonal=1)
        scores = scores.masked_fill(causal, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = torch.einsum("hts,shd->thd", probs, v).reshape(T, self.heads * d)
        return out @ L["o"].t()

    @staticmethod
    def swiglu(x, gate, up, down):
        return (torch.nn.functional.silu(x @ gate.t()) * (x @ up.t())) @ down.t()

    def moe(self, x, L):
        probs = torch.softmax(x @ L["router"].t(), dim=-1)             # softmax over all experts (docs/model.md 2.4)
        weights, chosen = torch.topk(probs, self.top_k, dim=-1)
        if self.norm_top_k:
            weights = weights / weights.sum(-1, keepdim=True)
        weights = weights * self.scaling
        out = self.swiglu(x, *L["shared"])                              # always on, unscaled
        for t in range(x.shape[0]):
            for slot in range(self.top_k):
                e = int(chosen[t, slot])
                out[t] += weights[t, slot] * self.swiglu(x[t:t + 1], *L["experts"][e])[0]
        return out

    def forward(self, ids):
        """Hidden states [layers + 1, T, hidden] (into layer 0, out of each layer) and logits [T, vocab]."""
        h = self.embed[torch.tensor(ids, device=self.device)]
        states = [h]
        for L in self.layers:
            h = h + self.attention(self.rms_norm(h, L["in_norm"]), L)
            h = h + self.moe(self.rms_norm(h, L["post_norm"]), L)
            states.append(h)
        logits = self.rms_norm(h, self.final_norm) @ self.lm_head.t()
        return torch.stack(states), logits

    def greedy(self, ids, n):
        ids = list(ids)
        out = []
        for _ in range(n):
            _, logits = self.forward(ids)
            token = int(torch.argmax(logits[-1]))
            out.append(token)
            ids.append(token)
        return out


# ---------------------------------------------------------------------------------------------------- goldens

def encode(t):
    a = t.detach().to("cpu").to(torch.float32).flatten().tolist()
    return {"shape": list(t.shape), "f32_base64": base64.b64encode(struct.pack(f"<{len(a)}f", *a)).decode()}


def decode(entry):
    raw = base64.b64decode(entry["f32_base64"])
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(entry["shape"]).to(torch.float64)


def nmse(expected, actual):
    return float(((expected - actual) ** 2).sum() / (expected ** 2).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory (Hugging Face layout)")
    ap.add_argument("--out", help="golden file to write (JSON)")
    ap.add_argument("--check", help="golden file to compare a fresh run with")
    ap.add_argument("--prompt", action="append", default=[], help="token ids, comma-separated (repeatable)")
    ap.add_argument("--greedy", type=int, default=16, help="greedy tokens to generate after each prompt")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--dtype", choices=["float64", "float32", "bfloat16"], help="default: float64 on the CPU, float32 on CUDA")
    ap.add_argument("--generator", default="{}", help="JSON recorded in the golden: how the checkpoint was made")
    args = ap.parse_args()
    if (args.out is None) == (args.check is None):
        sys.exit("hunyuan_parity: give exactly one of --out or --check")

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    dtype = getattr(torch, args.dtype or ("float64" if device == "cpu" else "float32"))
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = Hunyuan(args.model, dtype, device)

    if args.check:
        with open(args.check) as f:
            golden = json.load(f)
        worst = 0.0
        for p in golden["prompts"]:
            states, logits = model.forward(p["ids"])
            for what, fresh in (("hidden", states), ("logits", logits)):
                e = nmse(decode(p[what]), fresh.to("cpu").to(torch.float64))
                worst = max(worst, e)
                print(f"prompt {p['ids']}: {what} NMSE {e:.3e}")
            greedy = model.greedy(p["ids"], len(p["greedy"]))
            print(f"prompt {p['ids']}: greedy {'same' if greedy == p['greedy'] else 'DIFFERENT: ' + str(greedy)}")
            if greedy != p["greedy"]:
                worst = float("inf")
        print(f"worst NMSE {worst:.3e} on {device} in {str(dtype).replace('torch.', '')}")
        sys.exit(0 if worst < 1e-6 else 1)

    prompts = [[int(x) for x in p.split(",")] for p in args.prompt] or [[1, 2, 3, 4]]
    golden = {
        "about": "Goldens of tools/parity/hunyuan_parity.py; regenerate with tools/parity/regenerate.sh",
        "generator": json.loads(args.generator),
        "checkpoint_sha256": {name: sha256_of(os.path.join(args.model, name)) for name in checkpoint_files(args.model)},
        "torch": torch.__version__,
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "prompts": [],
    }
    for ids in prompts:
        states, logits = model.forward(ids)
        golden["prompts"].append({"ids": ids, "hidden": encode(states), "logits": encode(logits), "greedy": model.greedy(ids, args.greedy)})
        print(f"hunyuan_parity: prompt of {len(ids)} tokens -> greedy {golden['prompts'][-1]['greedy']}", file=sys.stderr)
    tmp = args.out + ".partial"
    with open(tmp, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"hunyuan_parity: wrote {args.out} ({os.path.getsize(args.out)} bytes) on {device} in {golden['dtype']}", file=sys.stderr)


if __name__ == "__main__":
    main()
