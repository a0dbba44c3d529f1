"""Why the shear target is hard: how much of the added shear a slant statistic, the VAE's code and a
supervised CNN recover from the sheared test sevens; and, for comparison, how precisely the VAE's code
holds rotation and contrast. An analysis behind the README, not a method.

    .venv/bin/python bench/shear_analysis.py    # about 5 minutes, one thread

Slant. With central second moments mu11 = mean (x - cx)(y - cy), mu02 = mean (y - cy)^2 over the ink
(rows y grow downwards), the shear x' = x + s (c - y) of make_data.py gives mu11' = mu11 - s mu02 and
mu02' = mu02, so the slant t = -mu11 / mu02 of a sheared seven is its writer's own slant plus s.
A code that holds the slant and nothing else is capped by Spearman(s, s + natural slant).

Slant and shape. A VAE with K = 3 latents has room for the slant and two more numbers. The best
those could add, if they were the two main ways the sevens' shapes vary: the shear fitted (quadratic
least squares on tr7, scored on te7) from the slant t and the top k principal components of the
deslanted sevens (each sheared back by its own t), for k = 0, 2, 5, 20, 50.

Supervised CNN (a reference for what the pixels hold; the VAE never sees s): it regresses s from
tr7 and is scored on te7, on four versions of the same shears:
    bilinear   the data as make_data.py makes them (a bilinear warp of the 28x28 image)
    antialias  each seven upsampled 4x, sheared there, averaged back over 4x4 blocks: no
               pixel-scale interpolation pattern is left for the CNN to read
    blurred    the bilinear images after a Gaussian blur (sigma 1 pixel)
    centre_of_mass  each seven sheared about the row of its own centre of mass, not the image's
               centre row: no horizontal offset of the whole seven is left that follows s
If bench/out/vae_*/test_latents.npz exist (bench/experiments.py), for the shear, rotation and
contrast runs: a leave-one-out 15-nearest-neighbour regression of the truth from the VAE's test
posterior means on the run's axes (how much the whole code holds, whichever axis it sits on), and on
the axis that follows the truth best, its posterior variance over the variance of its posterior
means (how coarsely the code places the sevens). For contrast also: how well the code holds the ink
mass and the ink intensity of the test sevens (15-NN again), and how well the intensity follows the
contrast once the sevens are blurred.
Writes bench/out/shear_analysis.json.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.stats
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere: the project's modules are one level up
from common import load_array, load_images, set_torch_threads, write_json  # noqa: E402
from make_data import add_effect, affine_about_centre, load_mnist_sevens  # noqa: E402
from vae_sevens import correlations_with_truth, image_statistics, ink_moments  # noqa: E402

OUT = REPO / "bench" / "out"
SHEAR_DATA = OUT / "sevens_shear"
CONTRAST_DATA = OUT / "sevens_contrast"
UPSAMPLING = 4
BLUR_SIGMA = 1.0
NEIGHBOURS = 15
CNN_EPOCHS, CNN_BATCH, CNN_LR = 15, 128, 1e-3
CONTRAST_BLURS = (1.0, 2.0, 3.0)  # pixels
SHAPE_COMPONENTS = (0, 2, 5, 20, 50)  # principal components of the deslanted sevens beside the slant
# The benchmark's VAE runs (bench/experiments.py) whose codes are compared, with their ground truth.
VAE_RUNS = {
    "shear": ("vae_shear", SHEAR_DATA / "te7_effect.npy"),
    "rotation": ("vae_rotation_1", REPO / "data" / "te7_angles.npy"),
    "contrast": ("vae_contrast", CONTRAST_DATA / "te7_effect.npy"),
}


def slant(images: np.ndarray) -> np.ndarray:
    """-mu11 / mu02 of each image (N, 28, 28) -> (N,): the horizontal shear that would make it upright."""
    moments = ink_moments(images)
    return -moments["mu11"] / moments["mu02"]


def abs_spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(scipy.stats.spearmanr(a, b).statistic))


def shear_about_row(image: np.ndarray, shear: float, centre_row: float) -> np.ndarray:
    """x' = x + shear (centre_row - y), bilinear, not clipped: make_data.py's shear about any row.

    About the image's centre row c it is make_data's warp; about another row it is that warp plus a
    move of shear (centre_row - c) to the right."""
    centre = (image.shape[0] - 1) / 2.0
    return affine_about_centre(image, np.array([[1.0, -shear], [0.0, 1.0]]), (shear * (centre_row - centre), 0.0))


def deslanted(images: np.ndarray) -> np.ndarray:
    """Each image (N, 28, 28) sheared back by its own slant t about its centre of mass: the seven's
    shape with all slant taken out, the writer's and the added shear's alike."""
    moments = ink_moments(images)
    slants = -moments["mu11"] / moments["mu02"]
    return np.stack([shear_about_row(image, -t, cy) for image, t, cy in zip(images, slants, moments["centre_y"])])


def shear_from_slant_and_shape(train_images, train_shear, test_images, test_shear,
                               components=SHAPE_COMPONENTS) -> dict:
    """How much of the added shear a code of k + 1 numbers holds when those numbers are the total
    slant t and the top k principal components p of the deslanted sevens (the main ways their shapes
    vary). The shear is fitted by least squares on 1, t, t^2, p, p^2 and t p over the training
    sevens; returns the |Spearman| of the fit with the shear on the test sevens, for each k."""
    shape = {split: deslanted(images).reshape(len(images), -1)
             for split, images in (("train", train_images), ("test", test_images))}  # fmt: skip
    total_slant = {"train": slant(train_images), "test": slant(test_images)}
    mean = shape["train"].mean(axis=0)
    _, _, principal_axes = np.linalg.svd(shape["train"] - mean, full_matrices=False)
    results = {}
    for k in components:
        design = {}
        for split in ("train", "test"):
            p = (shape[split] - mean) @ principal_axes[:k].T
            t = total_slant[split][:, None]
            design[split] = np.hstack([np.ones_like(t), t, t**2, p, p**2, t * p])
        weights = np.linalg.lstsq(design["train"], train_shear, rcond=None)[0]
        results[f"slant_and_{k}_shape_components_abs_spearman"] = abs_spearman(test_shear, design["test"] @ weights)
    return results


def antialiased_shear(seven: np.ndarray, shear: float) -> np.ndarray:
    """Shear at UPSAMPLING x resolution, then average each block back into one pixel (28x28)."""
    fine = scipy.ndimage.zoom(seven, UPSAMPLING, order=1, grid_mode=True, mode="grid-constant")
    sheared = add_effect(fine, "shear", shear)
    side = seven.shape[0]
    return sheared.reshape(side, UPSAMPLING, side, UPSAMPLING).mean(axis=(1, 3))


def supervised_cnn(train_images, train_truth, test_images, seed: int = 0) -> np.ndarray:
    """Regress the standardised truth with a small CNN; return its predictions on the test images."""
    torch.manual_seed(seed)
    inputs = torch.tensor(train_images[:, None], dtype=torch.float32)
    targets = torch.tensor((train_truth - train_truth.mean()) / train_truth.std(), dtype=torch.float32)
    network = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 1),
    )  # fmt: skip
    optimiser = torch.optim.Adam(network.parameters(), lr=CNN_LR)
    for _ in range(CNN_EPOCHS):
        for index in torch.randperm(len(inputs)).split(CNN_BATCH):
            loss = (network(inputs[index]).squeeze(1) - targets[index]).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        return network(torch.tensor(test_images[:, None], dtype=torch.float32)).squeeze(1).numpy()


def leave_one_out_knn(codes: np.ndarray, truth: np.ndarray, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """Predict each truth as the mean over its nearest other codes (standardised Euclidean)."""
    codes = (codes - codes.mean(0)) / codes.std(0)
    distances = ((codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :neighbours]
    return truth[nearest].mean(axis=1)


def noise_to_code_variance(mu: np.ndarray, log_variance: np.ndarray, truth: np.ndarray) -> float:
    """On the latent that best follows the truth: mean posterior variance / variance of the posterior
    means. Small means the code places each seven precisely; near 1 means the code is mostly noise."""
    best = int(np.argmax(np.abs(correlations_with_truth(mu, truth))))
    return float(np.exp(log_variance[:, best]).mean() / mu[:, best].var())


def ink_statistics_in_code(mu: np.ndarray, contrast: np.ndarray, images: np.ndarray) -> dict:
    """What a code of the images (N, 28, 28) holds: their ink mass (contrast x amount of stroke) or
    their ink intensity (contrast alone), each read from the code by 15-NN, beside how well each
    statistic follows the contrast."""
    statistics = image_statistics(images)
    results = {}
    for name in ("ink_mass", "ink_intensity"):
        values = statistics[name]
        results[f"contrast_vs_{name}_abs_spearman"] = abs_spearman(contrast, values)
        results[f"vae_contrast_knn_{name}_abs_spearman"] = abs_spearman(values, leave_one_out_knn(mu, values))
    return results


def intensity_after_blur(images: np.ndarray, contrast: np.ndarray, sigmas=CONTRAST_BLURS) -> dict:
    """|Spearman| of the contrast with the ink intensity of the images after a Gaussian blur of each
    sigma (pixels). A blur keeps the ink mass but spreads a thin dark stroke into a thick faint one,
    as a decoder's mean may where the code leaves the stroke's exact path open."""
    results = {}
    for sigma in sigmas:
        blurred = scipy.ndimage.gaussian_filter(images, (0, sigma, sigma))
        results[f"contrast_vs_ink_intensity_blur_{sigma:g}px_abs_spearman"] = abs_spearman(
            contrast, image_statistics(blurred)["ink_intensity"])
    return results


def main() -> None:
    set_torch_threads(1)
    if not (SHEAR_DATA / "te7.pkl").exists():
        command = [sys.executable, "make_data.py", "--only", "sevens", "--sevens-effect", "shear",
                   "--out", str(SHEAR_DATA)]
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    splits = (("train", "tr7"), ("test", "te7"))
    sheared = {split: load_images(SHEAR_DATA / f"{prefix}.pkl") for split, prefix in splits}
    truth = {split: load_array(SHEAR_DATA / f"{prefix}_effect.npy", 1, "shears") for split, prefix in splits}
    originals = {split: sevens / 255.0 for split, sevens in load_mnist_sevens().items()}

    natural = slant(originals["test"])
    # The sheared sevens are the originals in the same order: their slants differ by the shear.
    agreement = np.corrcoef(slant(sheared["test"]) - truth["test"], natural)[0, 1]
    if agreement < 0.99:
        sys.exit(f"{SHEAR_DATA}: the sheared sevens do not follow the MNIST asset's order (r = {agreement:.3f})")
    results = {
        "slant_statistic_abs_spearman": abs_spearman(truth["test"], slant(sheared["test"])),
        "natural_slant_sd": float(natural.std()),
        "added_shear_sd": float(truth["test"].std()),
        "cap_abs_spearman_of_total_slant": abs_spearman(truth["test"], truth["test"] + natural),
    }
    for name, (run, truth_file) in VAE_RUNS.items():
        latents = OUT / run / "test_latents.npz"
        if latents.exists() and truth_file.exists():
            with np.load(latents) as archive:
                mu, log_variance = archive["mu"], archive["log_variance"]
            values = load_array(truth_file, 1, "ground truth")
            results[f"vae_{name}_knn_abs_spearman"] = abs_spearman(values, leave_one_out_knn(mu, values))
            results[f"vae_{name}_noise_to_code_variance"] = noise_to_code_variance(mu, log_variance, values)
            if name == "contrast":
                contrast_images = load_images(CONTRAST_DATA / "te7.pkl")
                results.update(ink_statistics_in_code(mu, values, contrast_images))
                results.update(intensity_after_blur(contrast_images, values))

    results.update(shear_from_slant_and_shape(sheared["train"], truth["train"], sheared["test"], truth["test"]))
    versions = {
        "bilinear": lambda split: sheared[split],
        "antialias": lambda split: np.stack(
            [antialiased_shear(seven, shear) for seven, shear in zip(originals[split], truth[split])]
        ),
        "blurred": lambda split: scipy.ndimage.gaussian_filter(sheared[split], (0, BLUR_SIGMA, BLUR_SIGMA)),
        "centre_of_mass": lambda split: np.stack([
            np.clip(shear_about_row(seven, shear, ink_moments(seven)["centre_y"]), 0.0, 1.0)
            for seven, shear in zip(originals[split], truth[split])
        ]),
    }  # fmt: skip
    for name, images_of in versions.items():
        started = time.perf_counter()
        test_images = images_of("test")
        prediction = supervised_cnn(images_of("train"), truth["train"], test_images)
        results[f"cnn_{name}_abs_spearman"] = abs_spearman(truth["test"], prediction)
        results[f"cnn_{name}_slant_statistic_abs_spearman"] = abs_spearman(truth["test"], slant(test_images))
        print(f"supervised CNN, {name}: |r| {results[f'cnn_{name}_abs_spearman']:.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    for key, value in results.items():
        print(f"{key}: {value:.3f}")
    write_json(OUT / "shear_analysis.json", results)
    print(f"wrote {OUT / 'shear_analysis.json'}")


if __name__ == "__main__":
    main()
