"""cvm.campaigns"""
