//! The evaluation networks: what the metrics and the projector measure images with, not
//! StyleGAN itself. Inception-v3 (FID, KID), VGG16's fc7 (precision and recall), LPIPS on VGG16
//! (perceptual path length, the projector), and the small Fashion-MNIST classifier (the
//! `fmnist` features and class histograms). Each takes images in [-1, 1] from the generator.

pub mod classifier;
pub mod image_input;
pub mod inception;
pub mod lpips;
pub mod vgg16;
