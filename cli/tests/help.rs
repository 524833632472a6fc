//! Help that helps (issue 29): every command's `--help` shows examples and a line of help for
//! every argument and flag, and the Fashion-MNIST recipe is the same three commands wherever it
//! is shown (`stylegan --help`, `stylegan train --help`, README.md, the card). Needs no GPU.

mod common;

fn help(args: &[&str]) -> String {
    let o = common::process::stylegan_command()
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?} --help failed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The subcommands `stylegan --help` lists.
fn commands() -> Vec<String> {
    let top = help(&[]);
    let list = top
        .split("Commands:\n")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .expect("a Commands section");
    list.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_examples_and_every_flag_a_line_of_help() {
    let cmds = commands();
    assert!(cmds.len() >= 15, "{cmds:?}");
    let mut missing = Vec::new();
    let mut checked = 0;
    for c in &cmds {
        let h = help(&[c]);
        if !h.contains("Example") {
            missing.push(format!("{c}: no examples"));
        }
        // Long help: each argument or flag on its own line, its description indented below.
        let body = h.split("\nUsage:").nth(1).unwrap_or("");
        let lines: Vec<&str> = body.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let is_item = (t.starts_with("--") || t.starts_with("-h") || t.starts_with('<'))
                && l.starts_with("  ")
                && !l.starts_with("          ");
            if !is_item {
                continue;
            }
            checked += 1;
            let next = lines.get(i + 1).copied().unwrap_or("");
            if !next.starts_with("          ") || next.trim().is_empty() {
                missing.push(format!("{c}: {t} has no help"));
            }
        }
    }
    assert!(
        checked > 150,
        "only {checked} flags found: the help layout changed?"
    );
    assert!(
        missing.is_empty(),
        "help that does not help:\n{}",
        missing.join("\n")
    );
}

/// The recipe of the embedded model, its three stages as `stylegan --help` shows them.
const RECIPE: [&str; 3] = [
    "stylegan train --data /usr/share/datasets/fashion-mnist --class-names fmnist \
     --outdir runs/fmnist --preset fmnist --lr 0.002 --seed 1 --kimg 241 --snapshot-kimg 5 \
     --metrics fid10k",
    "stylegan train --init-from runs/fmnist/network-snapshot-000241_008.safetensors \
     --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-decay \
     --lr 0.002 --seed 2 --kimg 40 --snapshot-kimg 5 --noise-decay 1 --metrics fid10k",
    "stylegan train --init-from runs/fmnist-decay/network-snapshot-000040.safetensors \
     --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-lr \
     --lr 0.0005 --seed 3 --kimg 25 --snapshot-kimg 5 --noise-decay 4 --metrics fid10k",
];

fn one_line(text: &str) -> String {
    text.replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_fashion_mnist_recipe_is_the_same_everywhere() {
    let root = common::workspace_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    for (what, text) in [
        ("stylegan --help", help(&[])),
        ("stylegan train --help", help(&["train"])),
        ("README.md", read("README.md")),
        ("assets/README.md", read("assets/README.md")),
    ] {
        let text = one_line(&text);
        for (i, step) in RECIPE.iter().enumerate() {
            assert!(
                text.contains(step),
                "{what} does not show step {} of the recipe `{step}`",
                i + 1
            );
        }
    }
}
