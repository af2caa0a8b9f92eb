/** Values the metrics service hands to resolvers. */

/** One bucket of a series. */
export interface PointModel {
  /** Bucket start, epoch ms. */
  start: number;
  value: number;
}

/** A series over a window: every bucket, zeros included, and the total over the window. */
export interface SeriesModel {
  total: number;
  points: PointModel[];
}

/** A product's sales over a window. Revenue in major units. */
export interface ProductSalesModel {
  productId: string;
  name: string;
  orders: number;
  revenue: number;
}
