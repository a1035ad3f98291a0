#version 450
// The pick among k candidates sorted by logit (from topk.comp): softmax at the temperature, the top-p nucleus
// (the smallest prefix whose probability reaches top_p), then the candidate where the host's uniform u falls.
// Writes tokens[slot], and the candidates' probabilities (0 outside the nucleus) for inspection. One invocation.
// A non-finite logit anywhere reaches here as a first candidate of +infinity (topk.comp): then tokens[slot] is
// 0xFFFFFFFF (no token), as argmax.comp writes, and the host stops with an error.

layout(local_size_x = 1) in;

layout(std430, binding = 0) readonly buffer Values { float values[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) buffer Tokens { uint tokens[]; };
layout(std430, binding = 3) writeonly buffer Probs { float probs[]; };

layout(push_constant) uniform Push {
    uint k;
    float temperature;   // > 0
    float top_p;         // (0, 1]
    float u;             // [0, 1)
    uint slot;
} p;

void main()
{
    if (isinf(values[0])) {
        tokens[p.slot] = 0xFFFFFFFFu;
        for (uint i = 0; i < p.k; i++) {
            probs[i] = 0.0;
        }
        return;
    }
    uint count = 0;
    float total = 0.0;
    for (uint i = 0; i < p.k && ids[i] != 0xFFFFFFFFu; i++) {
        total += exp((values[i] - values[0]) / p.temperature);
        count = i + 1;
    }
    uint keep = count;
    float mass = 0.0;
    for (uint i = 0; i < count; i++) {
        mass += exp((values[i] - values[0]) / p.temperature) / total;
        if (mass >= p.top_p) {
            keep = i + 1;
            break;
        }
    }
    float kept = 0.0;
    for (uint i = 0; i < keep; i++) {
        kept += exp((values[i] - values[0]) / p.temperature);
    }
    float target = p.u * kept, running = 0.0;
    uint chosen = ids[keep - 1];
    bool found = false;
    for (uint i = 0; i < p.k; i++) {
        float w = i < keep ? exp((values[i] - values[0]) / p.temperature) : 0.0;
        running += w;
        if (!found && i < keep && target < running) {
            chosen = ids[i];
            found = true;
        }
        probs[i] = w / kept;
    }
    tokens[p.slot] = chosen;
}
