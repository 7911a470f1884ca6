"""Sample-quality metrics: the reference FID network (`inception`, weights from
`inception_weights`) and FID / KID on its features (`distances`)."""
