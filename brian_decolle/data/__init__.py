"""Task data as spike arrays and labels; nothing here knows of networks.

mnist: real MNIST digits (5000 bundled, or idx files) and their Poisson spike trains.
gestures: DVS Gesture recordings through tonic, as cached 1 ms frames and training/test windows.
synthetic_gestures: a SYNTHETIC DVS Gesture stand-in in tonic's layout, with its command line.
"""
