//! Training states compared across rank counts (tests/dist.rs, tests/mpi.rs).

use stylegan_wgpu::io::safetensors::Checkpoint;
use stylegan_wgpu::rng::lcg_fill;

/// Gives the 4x4 constant of G and Gs structure, as training does.
///
/// At initialization the constant is all ones and the noise weights are zero, so the first
/// layer's instance norm normalizes a plane whose variation (the noise times weights of about
/// `lr * steps`) is 1e-4 of its mean: f32 rounding of that difference is amplified 1e4-fold, the
/// constant's bias (cancelled exactly by the norm) gets gradients of pure rounding noise, and
/// any two orders of summation (one process or two, or two GPUs) part within a few steps. That
/// is the model's conditioning at step 0, not the all-reduce; from a constant with structure
/// every gradient is real.
pub fn structured_constant(m: &mut Checkpoint) {
    for net in ["G", "Gs"] {
        let c = m.nets.get_mut(net).expect("a training snapshot");
        let c = c
            .get_mut("G_synthesis/4x4/Const/const")
            .expect("the constant");
        c.data = lcg_fill(c.data.len(), 17);
    }
}

/// Asserts two training states equal up to the order of sums: the same counters, weights
/// (G, D, Gs) within 1e-5 of each network's largest value, Adam's moments (the last gradients,
/// beta1 being 0, and their squares) within 1e-4, as gradients summed in another order are
/// held everywhere else (tests/batch_split.rs). Prints the worst tensor of each network.
pub fn assert_states_close(a: &Checkpoint, b: &Checkpoint, what: &str) {
    assert_eq!(
        a.metadata["train_state"], b.metadata["train_state"],
        "{what}"
    );
    for (net, ta) in &a.nets {
        let scale = ta
            .values()
            .flat_map(|t| t.data.iter())
            .fold(0f64, |m, v| m.max(v.abs() as f64))
            .max(1e-30);
        let (rel, name) = ta
            .iter()
            .map(|(name, t)| {
                let d = t
                    .data
                    .iter()
                    .zip(&b.nets[net][name].data)
                    .fold(0f64, |m, (x, y)| m.max((x - y).abs() as f64));
                (d / scale, name.as_str())
            })
            .fold((0f64, ""), |m, x| if x.0 > m.0 { x } else { m });
        let tol = if net.contains("adam") { 1e-4 } else { 1e-5 };
        eprintln!("{what}: {net}: worst rel {rel:.2e} ({name})");
        assert!(rel <= tol, "{what}: {net}/{name} differs by {rel:.2e}");
    }
}
