#version 450
// Repetition penalty (as in Hugging Face's generation): every token already in the sequence has its logit divided by
// the penalty when positive, multiplied when negative. Applied once per distinct token: PASS 0 computes the new value
// of each history entry from the untouched logits, PASS 1 writes them back (entries of the same token write the
// same value). Grid x covers the history.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint PASS = 0;

layout(std430, binding = 0) buffer Logits { float logits[]; };
layout(std430, binding = 1) readonly buffer History { uint history[]; };
layout(std430, binding = 2) buffer Scratch { float penalized[]; };

layout(push_constant) uniform Push {
    uint count;
    float penalty;
} p;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i >= p.count) {
        return;
    }
    uint t = history[i];
    if (PASS == 0) {
        float l = logits[t];
        penalized[i] = l > 0.0 ? l / p.penalty : l * p.penalty;
    } else {
        logits[t] = penalized[i];
    }
}
