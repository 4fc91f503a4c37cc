"""A synthetic but realistic multi-channel retailer with known ground truth.

`generate_company` draws customers, orders (BG/NBD purchases with Gamma-Gamma order values),
products, engagement events and consent histories as canonical Arrow tables, plus the truth a
platform should recover: latent CLV parameters, true future value and one past randomised
campaign with a planted uplift. `write_company` / `load_company_into` write it to Parquet or
the warehouse; `DemoGenerator` + `export_company` stream big runs chunk by chunk.
"""

from cvm.demo.company import Company, DemoGenerator, generate_company
from cvm.demo.config import BGNBDParams, CampaignParams, DemoConfig, GammaGammaParams
from cvm.demo.sinks import export_company, load_company_into, write_company

__all__ = [
    "BGNBDParams",
    "CampaignParams",
    "Company",
    "DemoConfig",
    "DemoGenerator",
    "GammaGammaParams",
    "export_company",
    "generate_company",
    "load_company_into",
    "write_company",
]
