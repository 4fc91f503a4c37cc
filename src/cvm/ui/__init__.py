"""cvm.ui"""
