"""Image ingest: the one folder lister (`lister`) and image validation / examples (`images`).

`lister.list_tree` is what every reader of image folders uses (`tfx-dcgan train`, the pipeline's
ImageExampleGen, the probe); its docstring states the rule for classes, links, duplicates and
hidden names.
"""
