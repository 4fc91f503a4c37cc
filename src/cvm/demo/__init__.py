"""cvm.demo"""
