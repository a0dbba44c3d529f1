"""How does the default VAE draw a seven from its code? A spatial broadcast decoder that reads its
grid through an affine warp of the code, so that a turned, slanted, stretched or moved seven is a
straight line in z.

    (x', y') = (I + A(z)) (x, y) + b(z),    [vec A(z), b(z)] = W_warp z    (W_warp 6 x K, from 0)

vae_sevens.py's ConvVAE decodes with it unless --plain (the homework's transposed convolutions).
"""

from __future__ import annotations

import torch
from torch import nn

from common import IMAGE_SHAPE

GRID_SIDE = IMAGE_SHAPE[0] // 2  # 14, the broadcast grid, upsampled once to 28
GRID_UNITS = 64  # hidden units per grid cell


class WarpedBroadcastDecoder(nn.Module):
    """p(x|z): a spatial broadcast decoder (Watters et al., 2019) reading its grid through a warp.

    Every cell of a 14x14 grid runs the same small network on (z, x', y'), (x', y') the cell's
    coordinates warped by the code (above), and one transposed convolution turns the 14x14 map into
    28x28 logits. A seven turned, slanted, stretched or moved is the same seven read at moved
    coordinates; changes that are not warps (contrast, stroke width) go through the network.
    The first layer, linear in [z, x', y'], is computed as W_z z + W_xy (x', y') without copying z.
    """

    def __init__(self, latent_dims: int):
        super().__init__()
        axis = torch.linspace(-1.0, 1.0, GRID_SIDE)
        rows, columns = torch.meshgrid(axis, axis, indexing="ij")
        coordinates = torch.stack([columns.flatten(), rows.flatten()], dim=1)  # (196, 2)
        self.register_buffer("coordinates", coordinates)
        self.from_latent = nn.Linear(latent_dims, GRID_UNITS)
        self.from_position = nn.Linear(2, GRID_UNITS, bias=False)
        self.per_cell = nn.Sequential(nn.ReLU(), nn.Linear(GRID_UNITS, GRID_UNITS),
                                      nn.ReLU(), nn.Linear(GRID_UNITS, GRID_UNITS), nn.ReLU())
        self.to_logits = nn.ConvTranspose2d(GRID_UNITS, 1, 4, stride=2, padding=1)  # 14 -> 28
        self.to_warp = nn.Linear(latent_dims, 6, bias=False)
        nn.init.zeros_(self.to_warp.weight)

    def grid_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 196, 2): every cell's (x, y) mapped by the code's affine warp."""
        warp = self.to_warp(z)  # (B, 6)
        matrix = torch.eye(2, dtype=z.dtype, device=z.device) + warp[:, :4].reshape(-1, 2, 2)
        return torch.einsum("bij,nj->bni", matrix, self.coordinates) + warp[:, None, 4:]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        latent = self.from_latent(z)[:, None, :]  # (B, 1, H)
        first = latent + self.from_position(self.grid_coordinates(z))  # (B, 196, H)
        hidden = self.per_cell(first).transpose(1, 2)
        hidden = hidden.reshape(len(z), GRID_UNITS, GRID_SIDE, GRID_SIDE)
        return self.to_logits(hidden)  # (B, 1, 28, 28)
