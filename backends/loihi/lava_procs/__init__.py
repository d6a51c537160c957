"""neuroport's own Lava Processes with fixed_pt ProcessModels (a leaf package: Lava's compiler executes every module
here to find models, so every module is side-effect free and imports only numpy, lava and neuroport.numerics)."""
