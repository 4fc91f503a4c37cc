"""cvm.segments"""
