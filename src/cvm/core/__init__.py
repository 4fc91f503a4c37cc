"""cvm.core"""
